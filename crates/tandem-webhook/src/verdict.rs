//! What a response status means for a delivery: 2xx delivered it; 429 and
//! 5xx say "not now" and are retried; anything else (other 4xx, and 3xx,
//! since redirects are not followed) would be answered the same way again
//! and fails the delivery at once.

use http::StatusCode;

/// The meaning of one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The receiver took the event.
    Delivered,
    /// Try again later.
    Retry,
    /// The receiver refused it; retrying would not help.
    Rejected,
}

/// Classifies a response status.
pub(crate) fn classify(status: StatusCode) -> Verdict {
    if status.is_success() {
        Verdict::Delivered
    } else if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Verdict::Retry
    } else {
        Verdict::Rejected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let v = |code| classify(StatusCode::from_u16(code).unwrap());
        for code in [200, 201, 202, 204, 299] {
            assert_eq!(v(code), Verdict::Delivered, "{code}");
        }
        for code in [429, 500, 502, 503, 504, 599] {
            assert_eq!(v(code), Verdict::Retry, "{code}");
        }
        for code in [301, 302, 400, 401, 403, 404, 405, 410, 422] {
            assert_eq!(v(code), Verdict::Rejected, "{code}");
        }
    }
}
