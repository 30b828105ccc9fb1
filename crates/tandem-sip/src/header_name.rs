//! Header field names (RFC 3261 §7.3, §20): the known ones, their compact
//! forms (RFC 3261 §7.3.3 and the IANA SIP parameters registry), and fast
//! case-insensitive recognition for the header index.

use std::fmt;

macro_rules! header_names {
    ($( $(#[$doc:meta])* $variant:ident => $canonical:literal $(, compact $compact:literal)? ;)*) => {
        /// A header field name. Known names are recognised in any case and in
        /// compact form; everything else is [`HeaderName::Other`] and kept
        /// byte for byte.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum HeaderName {
            $( $(#[$doc])* $variant, )*
            /// Any header field tandem does not know by name.
            Other,
        }

        impl HeaderName {
            /// The canonical spelling used when tandem writes this header.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( HeaderName::$variant => $canonical, )*
                    HeaderName::Other => "X-Unknown",
                }
            }

            /// The compact form (RFC 3261 §7.3.3), if the header has one.
            pub fn compact(self) -> Option<char> {
                match self {
                    $( $( HeaderName::$variant => Some($compact), )? )*
                    _ => None,
                }
            }

            fn from_compact(c: u8) -> HeaderName {
                match c.to_ascii_lowercase() {
                    $( $( c if c == $compact as u8 => HeaderName::$variant, )? )*
                    _ => HeaderName::Other,
                }
            }

        }
    };
}

header_names! {
    /// `Via` (RFC 3261 §20.42).
    Via => "Via", compact 'v';
    /// `From` (RFC 3261 §20.20).
    From => "From", compact 'f';
    /// `To` (RFC 3261 §20.39).
    To => "To", compact 't';
    /// `Call-ID` (RFC 3261 §20.8).
    CallId => "Call-ID", compact 'i';
    /// `CSeq` (RFC 3261 §20.16).
    CSeq => "CSeq";
    /// `Max-Forwards` (RFC 3261 §20.22).
    MaxForwards => "Max-Forwards";
    /// `Contact` (RFC 3261 §20.10).
    Contact => "Contact", compact 'm';
    /// `Route` (RFC 3261 §20.34).
    Route => "Route";
    /// `Record-Route` (RFC 3261 §20.30).
    RecordRoute => "Record-Route";
    /// `Path` (RFC 3327).
    Path => "Path";
    /// `Content-Length` (RFC 3261 §20.14).
    ContentLength => "Content-Length", compact 'l';
    /// `Content-Type` (RFC 3261 §20.15).
    ContentType => "Content-Type", compact 'c';
    /// `Content-Encoding` (RFC 3261 §20.12).
    ContentEncoding => "Content-Encoding", compact 'e';
    /// `Content-Disposition` (RFC 3261 §20.11).
    ContentDisposition => "Content-Disposition";
    /// `Expires` (RFC 3261 §20.19).
    Expires => "Expires";
    /// `Min-Expires` (RFC 3261 §20.23).
    MinExpires => "Min-Expires";
    /// `Authorization` (RFC 3261 §20.7).
    Authorization => "Authorization";
    /// `Proxy-Authorization` (RFC 3261 §20.28).
    ProxyAuthorization => "Proxy-Authorization";
    /// `WWW-Authenticate` (RFC 3261 §20.44).
    WwwAuthenticate => "WWW-Authenticate";
    /// `Proxy-Authenticate` (RFC 3261 §20.27).
    ProxyAuthenticate => "Proxy-Authenticate";
    /// `Authentication-Info` (RFC 3261 §20.6).
    AuthenticationInfo => "Authentication-Info";
    /// `Require` (RFC 3261 §20.32).
    Require => "Require";
    /// `Proxy-Require` (RFC 3261 §20.29).
    ProxyRequire => "Proxy-Require";
    /// `Supported` (RFC 3261 §20.37).
    Supported => "Supported", compact 'k';
    /// `Unsupported` (RFC 3261 §20.40).
    Unsupported => "Unsupported";
    /// `Allow` (RFC 3261 §20.5).
    Allow => "Allow";
    /// `Session-Expires` (RFC 4028).
    SessionExpires => "Session-Expires", compact 'x';
    /// `Min-SE` (RFC 4028).
    MinSe => "Min-SE";
    /// `Date` (RFC 3261 §20.17).
    Date => "Date";
    /// `Subject` (RFC 3261 §20.36).
    Subject => "Subject", compact 's';
    /// `Event` (RFC 6665).
    Event => "Event", compact 'o';
    /// `Allow-Events` (RFC 6665).
    AllowEvents => "Allow-Events", compact 'u';
    /// `Refer-To` (RFC 3515).
    ReferTo => "Refer-To", compact 'r';
    /// `Referred-By` (RFC 3892).
    ReferredBy => "Referred-By", compact 'b';
    /// `Accept-Contact` (RFC 3841).
    AcceptContact => "Accept-Contact", compact 'a';
    /// `Reject-Contact` (RFC 3841).
    RejectContact => "Reject-Contact", compact 'j';
    /// `Request-Disposition` (RFC 3841).
    RequestDisposition => "Request-Disposition", compact 'd';
    /// `Identity` (RFC 8224).
    Identity => "Identity", compact 'y';
    /// `Identity-Info` (RFC 4474, obsolete but still seen).
    IdentityInfo => "Identity-Info", compact 'n';
    /// `User-Agent` (RFC 3261 §20.41).
    UserAgent => "User-Agent";
    /// `Server` (RFC 3261 §20.35).
    Server => "Server";
    /// `Accept` (RFC 3261 §20.1).
    Accept => "Accept";
    /// `Accept-Encoding` (RFC 3261 §20.2).
    AcceptEncoding => "Accept-Encoding";
    /// `Accept-Language` (RFC 3261 §20.3).
    AcceptLanguage => "Accept-Language";
    /// `Retry-After` (RFC 3261 §20.33).
    RetryAfter => "Retry-After";
    /// `Timestamp` (RFC 3261 §20.38).
    Timestamp => "Timestamp";
    /// `Warning` (RFC 3261 §20.43).
    Warning => "Warning";
    /// `RSeq` (RFC 3262).
    RSeq => "RSeq";
    /// `RAck` (RFC 3262).
    RAck => "RAck";
    /// `Reason` (RFC 3326).
    Reason => "Reason";
    /// `P-Asserted-Identity` (RFC 3325).
    PAssertedIdentity => "P-Asserted-Identity";
    /// `P-Preferred-Identity` (RFC 3325).
    PPreferredIdentity => "P-Preferred-Identity";
    /// `Privacy` (RFC 3323).
    Privacy => "Privacy";
    /// `Service-Route` (RFC 3608).
    ServiceRoute => "Service-Route";
    /// `Subscription-State` (RFC 6665).
    SubscriptionState => "Subscription-State";
    /// `Organization` (RFC 3261 §20.25).
    Organization => "Organization";
    /// `Priority` (RFC 3261 §20.26).
    Priority => "Priority";
    /// `Reply-To` (RFC 3261 §20.31).
    ReplyTo => "Reply-To";
    /// `In-Reply-To` (RFC 3261 §20.21).
    InReplyTo => "In-Reply-To";
    /// `Error-Info` (RFC 3261 §20.18).
    ErrorInfo => "Error-Info";
    /// `Alert-Info` (RFC 3261 §20.4).
    AlertInfo => "Alert-Info";
    /// `Call-Info` (RFC 3261 §20.9).
    CallInfo => "Call-Info";
    /// `MIME-Version` (RFC 3261 §20.24).
    MimeVersion => "MIME-Version";
    /// `Flow-Timer` (RFC 5626).
    FlowTimer => "Flow-Timer";
}

impl HeaderName {
    /// Long-form recognition: dispatch on length and first letter, then one
    /// case-insensitive comparison, so an unknown name costs one or two compares.
    fn from_long(name: &[u8]) -> HeaderName {
        let first = name[0].to_ascii_lowercase();
        let candidates: &[(HeaderName, &[u8])] = match (name.len(), first) {
            (2, b't') => &[(HeaderName::To, b"To")],
            (3, b'v') => &[(HeaderName::Via, b"Via")],
            (4, b'c') => &[(HeaderName::CSeq, b"CSeq")],
            (4, b'd') => &[(HeaderName::Date, b"Date")],
            (4, b'f') => &[(HeaderName::From, b"From")],
            (4, b'p') => &[(HeaderName::Path, b"Path")],
            (4, b'r') => &[(HeaderName::RSeq, b"RSeq"), (HeaderName::RAck, b"RAck")],
            (5, b'a') => &[(HeaderName::Allow, b"Allow")],
            (5, b'e') => &[(HeaderName::Event, b"Event")],
            (5, b'r') => &[(HeaderName::Route, b"Route")],
            (6, b'a') => &[(HeaderName::Accept, b"Accept")],
            (6, b'm') => &[(HeaderName::MinSe, b"Min-SE")],
            (6, b'r') => &[(HeaderName::Reason, b"Reason")],
            (6, b's') => &[(HeaderName::Server, b"Server")],
            (7, b'c') => &[
                (HeaderName::CallId, b"Call-ID"),
                (HeaderName::Contact, b"Contact"),
            ],
            (7, b'e') => &[(HeaderName::Expires, b"Expires")],
            (7, b'p') => &[(HeaderName::Privacy, b"Privacy")],
            (7, b'r') => &[(HeaderName::Require, b"Require")],
            (7, b's') => &[(HeaderName::Subject, b"Subject")],
            (7, b'w') => &[(HeaderName::Warning, b"Warning")],
            (8, b'i') => &[(HeaderName::Identity, b"Identity")],
            (8, b'p') => &[(HeaderName::Priority, b"Priority")],
            (8, b'r') => &[
                (HeaderName::ReferTo, b"Refer-To"),
                (HeaderName::ReplyTo, b"Reply-To"),
            ],
            (9, b'c') => &[(HeaderName::CallInfo, b"Call-Info")],
            (9, b's') => &[(HeaderName::Supported, b"Supported")],
            (9, b't') => &[(HeaderName::Timestamp, b"Timestamp")],
            (10, b'a') => &[(HeaderName::AlertInfo, b"Alert-Info")],
            (10, b'e') => &[(HeaderName::ErrorInfo, b"Error-Info")],
            (10, b'f') => &[(HeaderName::FlowTimer, b"Flow-Timer")],
            (10, b'u') => &[(HeaderName::UserAgent, b"User-Agent")],
            (11, b'i') => &[(HeaderName::InReplyTo, b"In-Reply-To")],
            (11, b'm') => &[(HeaderName::MinExpires, b"Min-Expires")],
            (11, b'r') => &[
                (HeaderName::ReferredBy, b"Referred-By"),
                (HeaderName::RetryAfter, b"Retry-After"),
            ],
            (11, b'u') => &[(HeaderName::Unsupported, b"Unsupported")],
            (12, b'a') => &[(HeaderName::AllowEvents, b"Allow-Events")],
            (12, b'c') => &[(HeaderName::ContentType, b"Content-Type")],
            (12, b'm') => &[
                (HeaderName::MaxForwards, b"Max-Forwards"),
                (HeaderName::MimeVersion, b"MIME-Version"),
            ],
            (12, b'o') => &[(HeaderName::Organization, b"Organization")],
            (12, b'r') => &[(HeaderName::RecordRoute, b"Record-Route")],
            (13, b'a') => &[(HeaderName::Authorization, b"Authorization")],
            (13, b'i') => &[(HeaderName::IdentityInfo, b"Identity-Info")],
            (13, b'p') => &[(HeaderName::ProxyRequire, b"Proxy-Require")],
            (13, b's') => &[(HeaderName::ServiceRoute, b"Service-Route")],
            (14, b'a') => &[(HeaderName::AcceptContact, b"Accept-Contact")],
            (14, b'c') => &[(HeaderName::ContentLength, b"Content-Length")],
            (14, b'r') => &[(HeaderName::RejectContact, b"Reject-Contact")],
            (15, b'a') => &[
                (HeaderName::AcceptEncoding, b"Accept-Encoding"),
                (HeaderName::AcceptLanguage, b"Accept-Language"),
            ],
            (15, b's') => &[(HeaderName::SessionExpires, b"Session-Expires")],
            (16, b'c') => &[(HeaderName::ContentEncoding, b"Content-Encoding")],
            (16, b'w') => &[(HeaderName::WwwAuthenticate, b"WWW-Authenticate")],
            (18, b'p') => &[(HeaderName::ProxyAuthenticate, b"Proxy-Authenticate")],
            (18, b's') => &[(HeaderName::SubscriptionState, b"Subscription-State")],
            (19, b'a') => &[(HeaderName::AuthenticationInfo, b"Authentication-Info")],
            (19, b'c') => &[(HeaderName::ContentDisposition, b"Content-Disposition")],
            (19, b'p') => &[
                (HeaderName::ProxyAuthorization, b"Proxy-Authorization"),
                (HeaderName::PAssertedIdentity, b"P-Asserted-Identity"),
            ],
            (19, b'r') => &[(HeaderName::RequestDisposition, b"Request-Disposition")],
            (20, b'p') => &[(HeaderName::PPreferredIdentity, b"P-Preferred-Identity")],
            _ => return HeaderName::Other,
        };
        for (h, canonical) in candidates {
            if name.eq_ignore_ascii_case(canonical) {
                return *h;
            }
        }
        HeaderName::Other
    }

    /// Recognises a header name as it appears on the wire, in any case, long
    /// or compact.
    #[inline]
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        match name.len() {
            0 => HeaderName::Other,
            1 => HeaderName::from_compact(name[0]),
            _ => HeaderName::from_long(name),
        }
    }

    /// Headers whose value is a comma-separated list of elements, so that
    /// several header lines and several values in one line are equivalent
    /// (RFC 3261 §7.3.1).
    pub fn is_list(self) -> bool {
        matches!(
            self,
            HeaderName::Via
                | HeaderName::Contact
                | HeaderName::Route
                | HeaderName::RecordRoute
                | HeaderName::Path
                | HeaderName::Require
                | HeaderName::ProxyRequire
                | HeaderName::Supported
                | HeaderName::Unsupported
                | HeaderName::Allow
                | HeaderName::AllowEvents
                | HeaderName::ServiceRoute
                | HeaderName::PAssertedIdentity
                | HeaderName::PPreferredIdentity
        )
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_long_and_compact_in_any_case() {
        assert_eq!(HeaderName::from_bytes(b"via"), HeaderName::Via);
        assert_eq!(HeaderName::from_bytes(b"V"), HeaderName::Via);
        assert_eq!(HeaderName::from_bytes(b"CALL-id"), HeaderName::CallId);
        assert_eq!(HeaderName::from_bytes(b"i"), HeaderName::CallId);
        assert_eq!(HeaderName::from_bytes(b"l"), HeaderName::ContentLength);
        assert_eq!(HeaderName::from_bytes(b"cseq"), HeaderName::CSeq);
        assert_eq!(HeaderName::from_bytes(b"X-Foo"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"q"), HeaderName::Other);
    }

    #[test]
    fn canonical_round_trip() {
        for n in [
            HeaderName::Via,
            HeaderName::WwwAuthenticate,
            HeaderName::MinSe,
        ] {
            assert_eq!(HeaderName::from_bytes(n.as_str().as_bytes()), n);
        }
    }
}
