//! SIP request methods (RFC 3261 §7.1 and the extensions tandem knows).
//! Methods are case-sensitive; unknown ones are kept as written.

use std::fmt;

/// A request method. Extension methods are kept verbatim (RFC 3261 §27.4
/// lets anyone define one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// `INVITE` (RFC 3261).
    Invite,
    /// `ACK` (RFC 3261).
    Ack,
    /// `BYE` (RFC 3261).
    Bye,
    /// `CANCEL` (RFC 3261).
    Cancel,
    /// `REGISTER` (RFC 3261).
    Register,
    /// `OPTIONS` (RFC 3261).
    Options,
    /// `INFO` (RFC 6086).
    Info,
    /// `UPDATE` (RFC 3311).
    Update,
    /// `PRACK` (RFC 3262).
    Prack,
    /// `SUBSCRIBE` (RFC 6665).
    Subscribe,
    /// `NOTIFY` (RFC 6665).
    Notify,
    /// `PUBLISH` (RFC 3903).
    Publish,
    /// `MESSAGE` (RFC 3428).
    Message,
    /// `REFER` (RFC 3515).
    Refer,
    /// Any other token.
    Extension(Box<str>),
}

impl Method {
    /// Recognises a method token (already checked to be a token).
    #[inline]
    pub fn from_token(t: &[u8]) -> Method {
        match t {
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"REGISTER" => Method::Register,
            b"OPTIONS" => Method::Options,
            b"INFO" => Method::Info,
            b"UPDATE" => Method::Update,
            b"PRACK" => Method::Prack,
            b"SUBSCRIBE" => Method::Subscribe,
            b"NOTIFY" => Method::Notify,
            b"PUBLISH" => Method::Publish,
            b"MESSAGE" => Method::Message,
            b"REFER" => Method::Refer,
            other => Method::Extension(String::from_utf8_lossy(other).into()),
        }
    }

    /// The method as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Publish => "PUBLISH",
            Method::Message => "MESSAGE",
            Method::Refer => "REFER",
            Method::Extension(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Method {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Method::from_token(s.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_extension() {
        assert_eq!(Method::from_token(b"INVITE"), Method::Invite);
        assert_eq!(
            Method::from_token(b"invite"),
            Method::Extension("invite".into())
        );
        assert_eq!(Method::from_token(b"NEWMETHOD").as_str(), "NEWMETHOD");
    }
}
