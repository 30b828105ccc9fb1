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

        /// Packs up to 32 bytes, each OR 0x20, into two little-endian words. A
/// `const fn` so that canonical names are packed at compile time.
#[inline(always)]
const fn pack(name: &[u8]) -> (u128, u128) {
    let mut buf = [0x20u8; 32];
    let mut i = 0;
    while i < name.len() && i < 32 {
        buf[i] = name[i] | 0x20;
        i += 1;
    }
    let mut lo = [0u8; 16];
    let mut hi = [0u8; 16];
    let mut j = 0;
    while j < 16 {
        lo[j] = buf[j];
        hi[j] = buf[j + 16];
        j += 1;
    }
    (u128::from_le_bytes(lo), u128::from_le_bytes(hi))
}

/// The run-time twin of [`pack`]: one copy, two ORs.
#[inline(always)]
fn pack_runtime(name: &[u8]) -> (u128, u128) {
    const MASK: u128 = u128::from_le_bytes([0x20; 16]);
    let mut buf = [0u8; 32];
    buf[..name.len()].copy_from_slice(name);
    let (lo, hi) = buf.split_at(16);
    let lo: [u8; 16] = lo.try_into().unwrap_or([0; 16]);
    let hi: [u8; 16] = hi.try_into().unwrap_or([0; 16]);
    (u128::from_le_bytes(lo) | MASK, u128::from_le_bytes(hi) | MASK)
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
                    $( $( HeaderName::$variant => Some($compact as char), )? )*
                    _ => None,
                }
            }

            fn from_compact(c: u8) -> HeaderName {
                match c.to_ascii_lowercase() {
                    $( $( c if c == $compact => HeaderName::$variant, )? )*
                    _ => HeaderName::Other,
                }
            }

        }
    };
}

header_names! {
    /// `Via` (RFC 3261 §20.42).
    Via => "Via", compact b'v';
    /// `From` (RFC 3261 §20.20).
    From => "From", compact b'f';
    /// `To` (RFC 3261 §20.39).
    To => "To", compact b't';
    /// `Call-ID` (RFC 3261 §20.8).
    CallId => "Call-ID", compact b'i';
    /// `CSeq` (RFC 3261 §20.16).
    CSeq => "CSeq";
    /// `Max-Forwards` (RFC 3261 §20.22).
    MaxForwards => "Max-Forwards";
    /// `Contact` (RFC 3261 §20.10).
    Contact => "Contact", compact b'm';
    /// `Route` (RFC 3261 §20.34).
    Route => "Route";
    /// `Record-Route` (RFC 3261 §20.30).
    RecordRoute => "Record-Route";
    /// `Path` (RFC 3327).
    Path => "Path";
    /// `Content-Length` (RFC 3261 §20.14).
    ContentLength => "Content-Length", compact b'l';
    /// `Content-Type` (RFC 3261 §20.15).
    ContentType => "Content-Type", compact b'c';
    /// `Content-Encoding` (RFC 3261 §20.12).
    ContentEncoding => "Content-Encoding", compact b'e';
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
    Supported => "Supported", compact b'k';
    /// `Unsupported` (RFC 3261 §20.40).
    Unsupported => "Unsupported";
    /// `Allow` (RFC 3261 §20.5).
    Allow => "Allow";
    /// `Session-Expires` (RFC 4028).
    SessionExpires => "Session-Expires", compact b'x';
    /// `Min-SE` (RFC 4028).
    MinSe => "Min-SE";
    /// `Date` (RFC 3261 §20.17).
    Date => "Date";
    /// `Subject` (RFC 3261 §20.36).
    Subject => "Subject", compact b's';
    /// `Event` (RFC 6665).
    Event => "Event", compact b'o';
    /// `Allow-Events` (RFC 6665).
    AllowEvents => "Allow-Events", compact b'u';
    /// `Refer-To` (RFC 3515).
    ReferTo => "Refer-To", compact b'r';
    /// `Referred-By` (RFC 3892).
    ReferredBy => "Referred-By", compact b'b';
    /// `Accept-Contact` (RFC 3841).
    AcceptContact => "Accept-Contact", compact b'a';
    /// `Reject-Contact` (RFC 3841).
    RejectContact => "Reject-Contact", compact b'j';
    /// `Request-Disposition` (RFC 3841).
    RequestDisposition => "Request-Disposition", compact b'd';
    /// `Identity` (RFC 8224).
    Identity => "Identity", compact b'y';
    /// `Identity-Info` (RFC 4474, obsolete but still seen).
    IdentityInfo => "Identity-Info", compact b'n';
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
    /// Long-form recognition: the name, lower-cased by OR-ing 0x20 into
    /// every byte (safe for token characters: no other token byte maps onto a
    /// letter or '-'), is packed into two u128 words and compared with the
    /// packed canonical names of the same length: a few integer compares.
    fn from_long(name: &[u8]) -> HeaderName {
        if name.len() > 32 {
            return HeaderName::Other;
        }
        HeaderName::from_key(name.len(), pack_runtime(name))
    }

    /// Recognises the name `buf[start..end]`, reading whole words from the
    /// buffer when there is room after the name (the header index always
    /// has the value and CRLF after it), so that no copy is made.
    #[inline]
    pub(crate) fn from_buffer(buf: &[u8], start: usize, end: usize) -> HeaderName {
        let len = end - start;
        if len <= 1 || len > 32 || start + 32 > buf.len() {
            return HeaderName::from_bytes(&buf[start..end]);
        }
        const MASK: u128 = u128::from_le_bytes([0x20; 16]);
        let word = |at: usize| {
            let mut w = [0u8; 16];
            w.copy_from_slice(&buf[at..at + 16]);
            u128::from_le_bytes(w)
        };
        let keep = |n: usize| {
            if n >= 16 {
                u128::MAX
            } else {
                (1u128 << (n * 8)) - 1
            }
        };
        let lo = (word(start) & keep(len)) | MASK;
        let hi = (word(start + 16) & keep(len.saturating_sub(16))) | MASK;
        HeaderName::from_key(len, (lo, hi))
    }

    #[inline]
    fn from_key(len: usize, k: (u128, u128)) -> HeaderName {
        match len {
            2 if k == const { pack(b"To") } => HeaderName::To,
            3 if k == const { pack(b"Via") } => HeaderName::Via,
            4 if k == const { pack(b"From") } => HeaderName::From,
            4 if k == const { pack(b"CSeq") } => HeaderName::CSeq,
            4 if k == const { pack(b"Path") } => HeaderName::Path,
            4 if k == const { pack(b"Date") } => HeaderName::Date,
            4 if k == const { pack(b"RSeq") } => HeaderName::RSeq,
            4 if k == const { pack(b"RAck") } => HeaderName::RAck,
            5 if k == const { pack(b"Route") } => HeaderName::Route,
            5 if k == const { pack(b"Allow") } => HeaderName::Allow,
            5 if k == const { pack(b"Event") } => HeaderName::Event,
            6 if k == const { pack(b"Min-SE") } => HeaderName::MinSe,
            6 if k == const { pack(b"Server") } => HeaderName::Server,
            6 if k == const { pack(b"Accept") } => HeaderName::Accept,
            6 if k == const { pack(b"Reason") } => HeaderName::Reason,
            7 if k == const { pack(b"Call-ID") } => HeaderName::CallId,
            7 if k == const { pack(b"Contact") } => HeaderName::Contact,
            7 if k == const { pack(b"Expires") } => HeaderName::Expires,
            7 if k == const { pack(b"Require") } => HeaderName::Require,
            7 if k == const { pack(b"Subject") } => HeaderName::Subject,
            7 if k == const { pack(b"Warning") } => HeaderName::Warning,
            7 if k == const { pack(b"Privacy") } => HeaderName::Privacy,
            8 if k == const { pack(b"Refer-To") } => HeaderName::ReferTo,
            8 if k == const { pack(b"Identity") } => HeaderName::Identity,
            8 if k == const { pack(b"Priority") } => HeaderName::Priority,
            8 if k == const { pack(b"Reply-To") } => HeaderName::ReplyTo,
            9 if k == const { pack(b"Supported") } => HeaderName::Supported,
            9 if k == const { pack(b"Timestamp") } => HeaderName::Timestamp,
            9 if k == const { pack(b"Call-Info") } => HeaderName::CallInfo,
            10 if k == const { pack(b"User-Agent") } => HeaderName::UserAgent,
            10 if k == const { pack(b"Error-Info") } => HeaderName::ErrorInfo,
            10 if k == const { pack(b"Alert-Info") } => HeaderName::AlertInfo,
            10 if k == const { pack(b"Flow-Timer") } => HeaderName::FlowTimer,
            11 if k == const { pack(b"Min-Expires") } => HeaderName::MinExpires,
            11 if k == const { pack(b"Unsupported") } => HeaderName::Unsupported,
            11 if k == const { pack(b"Referred-By") } => HeaderName::ReferredBy,
            11 if k == const { pack(b"Retry-After") } => HeaderName::RetryAfter,
            11 if k == const { pack(b"In-Reply-To") } => HeaderName::InReplyTo,
            12 if k == const { pack(b"Max-Forwards") } => HeaderName::MaxForwards,
            12 if k == const { pack(b"Record-Route") } => HeaderName::RecordRoute,
            12 if k == const { pack(b"Content-Type") } => HeaderName::ContentType,
            12 if k == const { pack(b"Allow-Events") } => HeaderName::AllowEvents,
            12 if k == const { pack(b"Organization") } => HeaderName::Organization,
            12 if k == const { pack(b"MIME-Version") } => HeaderName::MimeVersion,
            13 if k == const { pack(b"Authorization") } => HeaderName::Authorization,
            13 if k == const { pack(b"Proxy-Require") } => HeaderName::ProxyRequire,
            13 if k == const { pack(b"Identity-Info") } => HeaderName::IdentityInfo,
            13 if k == const { pack(b"Service-Route") } => HeaderName::ServiceRoute,
            14 if k == const { pack(b"Content-Length") } => HeaderName::ContentLength,
            14 if k == const { pack(b"Accept-Contact") } => HeaderName::AcceptContact,
            14 if k == const { pack(b"Reject-Contact") } => HeaderName::RejectContact,
            15 if k == const { pack(b"Session-Expires") } => HeaderName::SessionExpires,
            15 if k == const { pack(b"Accept-Encoding") } => HeaderName::AcceptEncoding,
            15 if k == const { pack(b"Accept-Language") } => HeaderName::AcceptLanguage,
            16 if k == const { pack(b"Content-Encoding") } => HeaderName::ContentEncoding,
            16 if k == const { pack(b"WWW-Authenticate") } => HeaderName::WwwAuthenticate,
            18 if k == const { pack(b"Proxy-Authenticate") } => HeaderName::ProxyAuthenticate,
            18 if k == const { pack(b"Subscription-State") } => HeaderName::SubscriptionState,
            19 if k == const { pack(b"Content-Disposition") } => HeaderName::ContentDisposition,
            19 if k == const { pack(b"Proxy-Authorization") } => HeaderName::ProxyAuthorization,
            19 if k == const { pack(b"Authentication-Info") } => HeaderName::AuthenticationInfo,
            19 if k == const { pack(b"Request-Disposition") } => HeaderName::RequestDisposition,
            19 if k == const { pack(b"P-Asserted-Identity") } => HeaderName::PAssertedIdentity,
            20 if k == const { pack(b"P-Preferred-Identity") } => HeaderName::PPreferredIdentity,
            _ => HeaderName::Other,
        }
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
