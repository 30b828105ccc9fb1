//! The wait between attempts: exponential from `backoff_initial_ms`,
//! doubling at each retry, capped at `backoff_max_ms`; a server's
//! `Retry-After` (delay-seconds, RFC 9110 §10.2.3) can lengthen it, never
//! past the cap. No jitter: each node has its own webhooks, so there is no
//! herd to spread.

use std::time::Duration;

/// The wait before retry number `retry` (1 for the first retry):
/// `initial * 2^(retry - 1)`, at most `max`.
pub fn backoff_delay(retry: u32, initial: Duration, max: Duration) -> Duration {
    let doublings = retry.saturating_sub(1);
    let factor = 1_u32.checked_shl(doublings).unwrap_or(u32::MAX);
    initial.saturating_mul(factor).min(max)
}

/// The wait before retry `retry` when the server asked for `retry_after`.
pub(crate) fn retry_wait(
    retry: u32,
    initial: Duration,
    max: Duration,
    retry_after: Option<Duration>,
) -> Duration {
    let delay = backoff_delay(retry, initial, max);
    retry_after.map_or(delay, |asked| delay.max(asked).min(max))
}

/// A `Retry-After` header in delay-seconds form; the HTTP-date form is
/// ignored (it would need the wall clock) and so is anything malformed.
pub(crate) fn parse_retry_after(value: &[u8]) -> Option<Duration> {
    let text = std::str::from_utf8(value).ok()?.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn doubles_from_initial_up_to_max() {
        let got: Vec<u64> = (1..=9)
            .map(|r| u64::try_from(backoff_delay(r, MS(500), MS(30_000)).as_millis()).unwrap())
            .collect();
        assert_eq!(
            got,
            [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]
        );
    }

    #[test]
    fn huge_retry_counts_saturate_at_max() {
        assert_eq!(backoff_delay(40, MS(500), MS(30_000)), MS(30_000));
        assert_eq!(backoff_delay(u32::MAX, MS(1), MS(7)), MS(7));
        assert_eq!(backoff_delay(0, MS(3), MS(7)), MS(3));
    }

    #[test]
    fn retry_after_lengthens_but_never_past_max() {
        assert_eq!(retry_wait(1, MS(500), MS(30_000), None), MS(500));
        assert_eq!(
            retry_wait(1, MS(500), MS(30_000), Some(MS(2_000))),
            MS(2_000)
        );
        assert_eq!(retry_wait(3, MS(500), MS(30_000), Some(MS(100))), MS(2_000));
        assert_eq!(
            retry_wait(1, MS(500), MS(30_000), Some(MS(120_000))),
            MS(30_000)
        );
    }

    #[test]
    fn retry_after_seconds_only() {
        assert_eq!(parse_retry_after(b"3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(b" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(b"Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after(b"-1"), None);
        assert_eq!(parse_retry_after(b""), None);
    }
}
