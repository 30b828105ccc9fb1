//! The message layer's one error type. Every variant knows the SIP status an
//! element answers a request with when it meets that error (RFC 3261 §8.2,
//! §16.3, RFC 4475 §3.1.2); invalid responses are never answered, only
//! dropped (RFC 3261 §18.1.2).

use crate::header_name::HeaderName;
use thiserror::Error;

/// What is wrong with a request line or status line (RFC 3261 §7.1, §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StartLineProblem {
    /// The line is empty or does not have the three required parts.
    #[error("it does not have three parts")]
    Shape,
    /// The elements are not separated by exactly one SP, or the line has
    /// trailing white space (RFC 4475 §3.1.2.9, §3.1.2.10).
    #[error("elements not separated by exactly one SP, or trailing white space")]
    Spacing,
    /// The method is not a token.
    #[error("the method is not a token")]
    Method,
    /// The version is not of the form `SIP/digits.digits`.
    #[error("the version is not SIP/digits.digits")]
    Version,
    /// The status code is not three digits.
    #[error("the status code is not three digits")]
    StatusCode,
    /// The reason phrase contains control characters or is not UTF-8.
    #[error("the reason phrase holds control characters or is not UTF-8")]
    ReasonPhrase,
}

/// What is wrong with a URI (RFC 3261 §19.1, RFC 3966).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum UriProblem {
    /// No `scheme:` prefix.
    #[error("no valid scheme")]
    Scheme,
    /// The user or password part holds a character that must be escaped.
    #[error("the user or password part holds a character that must be escaped")]
    UserInfo,
    /// The host is missing or is not a hostname, IPv4 address or IPv6 reference.
    #[error("the host is not a name, IPv4 address or IPv6 reference")]
    Host,
    /// The port is not a number between 0 and 65535.
    #[error("the port is not a number from 0 to 65535")]
    Port,
    /// A parameter is empty or holds a character that must be escaped.
    #[error("a parameter is empty or holds a character that must be escaped")]
    Parameter,
    /// The header part (`?name=value`) is malformed.
    #[error("the header part is malformed")]
    Headers,
    /// A `%` is not followed by two hexadecimal digits.
    #[error("a '%' is not followed by two hex digits")]
    Escape,
    /// A telephone number (TEL URI) is malformed.
    #[error("the telephone number is malformed")]
    TelephoneNumber,
    /// White space or another character not allowed in a URI.
    #[error("white space or another character not allowed in a URI")]
    Character,
    /// The Request-URI is enclosed in `<>` (RFC 4475 §3.1.2.7).
    #[error("it is enclosed in <>")]
    AngleBrackets,
    /// The Request-URI carries URI headers (RFC 3261 §19.1.5, RFC 4475 §3.1.2.11).
    #[error("a Request-URI may not carry URI headers")]
    HeadersInRequestUri,
}

/// What is wrong with a header field value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HeaderProblem {
    /// The value is empty where the grammar requires something.
    #[error("the value is empty")]
    Empty,
    /// A number is malformed.
    #[error("not a number")]
    Number,
    /// A number is larger than the grammar or RFC 3261 allows (RFC 4475 §3.1.2.4).
    #[error("the number is too large")]
    Overflow,
    /// A token was expected.
    #[error("a token was expected")]
    Token,
    /// A quoted string is not terminated (RFC 4475 §3.1.2.6).
    #[error("a quoted string is not terminated")]
    UnterminatedQuote,
    /// A display name holds characters that need quoting (RFC 4475 §3.1.2.15).
    #[error("the display name needs quoting")]
    DisplayName,
    /// The URI inside the value is malformed.
    #[error("the URI is malformed: {0}")]
    Uri(UriProblem),
    /// An addr-spec with `,`, `?` or `;` in its URI is not enclosed in `<>`
    /// (RFC 3261 §20, RFC 4475 §3.1.2.13).
    #[error("an address with ',', '?' or ';' must be enclosed in <>")]
    AngleBracketsRequired,
    /// A `<` without its `>`.
    #[error("a '<' has no matching '>'")]
    UnbalancedAngleBrackets,
    /// A parameter is empty or malformed (RFC 4475 §3.1.2.1).
    #[error("a parameter is empty or malformed")]
    Parameter,
    /// The sent-protocol of a Via is not `name/version/transport`.
    #[error("the sent-protocol is not name/version/transport")]
    SentProtocol,
    /// The value is not a date in RFC 1123 form with the `GMT` zone (RFC 4475 §3.1.2.12).
    #[error("not an RFC 1123 date in GMT")]
    Date,
    /// The wildcard `*` Contact is combined with other contacts.
    #[error("'*' must be the only Contact")]
    Wildcard,
    /// Bytes left over after a complete value.
    #[error("unexpected characters after the value")]
    TrailingCharacters,
    /// The value is not valid UTF-8.
    #[error("the value is not valid UTF-8")]
    Utf8,
    /// Authentication parameters are malformed (RFC 3261 §25.1 `credentials`).
    #[error("the authentication parameters are malformed")]
    AuthParams,
}

/// Everything that can go wrong reading, framing or checking a SIP message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The message is larger than the configured maximum.
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Bytes received (or announced by Content-Length) so far.
        size: usize,
        /// The configured `message_size_max`.
        limit: usize,
    },
    /// More header fields than the configured maximum.
    #[error("more than {limit} header fields")]
    TooManyHeaders {
        /// The configured `header_count_max`.
        limit: usize,
    },
    /// A header line is longer than the configured maximum.
    #[error("header line {line} is longer than {limit} bytes")]
    HeaderLineTooLong {
        /// One-based line number within the message.
        line: usize,
        /// The configured `header_line_len_max`.
        limit: usize,
    },
    /// Too many Via or Route values.
    #[error("more than {limit} {header} values")]
    TooManyValues {
        /// Via, Route or Record-Route.
        header: HeaderName,
        /// The configured limit.
        limit: usize,
    },
    /// The message ends before the empty line that closes the header section.
    #[error("header section not terminated by an empty line")]
    Unterminated,
    /// A line ends in a bare LF where CRLF is required (RFC 3261 §7).
    #[error("line {line} ends in a bare LF, not CRLF")]
    BareLf {
        /// One-based line number within the message.
        line: usize,
    },
    /// A CR that is not followed by LF (RFC 3261 §7: lines end in CRLF and
    /// header values hold no control characters).
    #[error("line {line} holds a CR not followed by LF")]
    BareCr {
        /// One-based line number within the message.
        line: usize,
    },
    /// The request line or status line is malformed.
    #[error("malformed start line: {problem}")]
    StartLine {
        /// What is wrong.
        problem: StartLineProblem,
    },
    /// The SIP version is not 2.0 (RFC 3261 §8.2.2 ... 505).
    #[error("unsupported SIP version {version:?}")]
    UnsupportedVersion {
        /// The version as it appeared, e.g. `SIP/7.0`.
        version: Box<str>,
    },
    /// The Request-URI is malformed.
    #[error("malformed Request-URI: {problem}")]
    RequestUri {
        /// What is wrong.
        problem: UriProblem,
    },
    /// The Request-URI has a scheme tandem does not serve (RFC 3261 §8.2.2.1 ... 416).
    #[error("unsupported URI scheme {scheme:?}")]
    UnsupportedUriScheme {
        /// The scheme as it appeared.
        scheme: Box<str>,
    },
    /// A header line has no colon or its name is not a token.
    #[error("line {line} is not a header field")]
    HeaderSyntax {
        /// One-based line number within the message.
        line: usize,
    },
    /// A known header's value does not match its grammar.
    #[error("invalid {header} header: {problem}")]
    InvalidHeader {
        /// The header.
        header: HeaderName,
        /// What is wrong.
        problem: HeaderProblem,
    },
    /// A mandatory header is missing (RFC 3261 §8.1.1).
    #[error("missing {header} header")]
    MissingHeader {
        /// The header.
        header: HeaderName,
    },
    /// A header that may appear only once appears several times.
    #[error("{header} appears more than once")]
    DuplicateHeader {
        /// The header.
        header: HeaderName,
    },
    /// Content-Length announces more bytes than the datagram holds (RFC 4475 §3.1.2.2).
    #[error("Content-Length {declared} exceeds the {available} bytes of body received")]
    ContentLengthExceedsBody {
        /// The Content-Length value.
        declared: u32,
        /// Bytes actually present after the header section.
        available: usize,
    },
    /// A message on a stream transport has no Content-Length (RFC 3261 §18.3).
    #[error("Content-Length is required on stream transports")]
    MissingContentLength,
    /// The CSeq method differs from the request method (RFC 4475 §3.1.2.17).
    /// When the request method is one tandem does not know, RFC 4475
    /// §3.1.2.18 prefers 501 to 400.
    #[error("CSeq method does not match the request method")]
    CseqMethodMismatch {
        /// Whether the request line's method is an extension tandem does not implement.
        unknown_method: bool,
    },
}

impl Error {
    /// The status code an element answers a request with when it meets this
    /// error. Responses with errors are dropped instead; see [`Error::reason_phrase`].
    pub fn status(&self) -> u16 {
        match self {
            Error::TooLarge { .. } => 513,
            Error::UnsupportedVersion { .. } => 505,
            Error::UnsupportedUriScheme { .. } => 416,
            Error::CseqMethodMismatch {
                unknown_method: true,
            } => 501,
            _ => 400,
        }
    }

    /// A reason phrase for the answer, more specific than the status's
    /// default so that the sender can tell what it got wrong.
    pub fn reason_phrase(&self) -> &'static str {
        match self {
            Error::TooLarge { .. } => "Message Too Large",
            Error::UnsupportedVersion { .. } => "Version Not Supported",
            Error::UnsupportedUriScheme { .. } => "Unsupported URI Scheme",
            Error::TooManyHeaders { .. } => "Bad Request (Too Many Headers)",
            Error::HeaderLineTooLong { .. } => "Bad Request (Header Too Long)",
            Error::TooManyValues {
                header: HeaderName::Via,
                ..
            } => "Bad Request (Too Many Vias)",
            Error::TooManyValues { .. } => "Bad Request (Too Many Routes)",
            Error::Unterminated => "Bad Request (Unterminated Header Section)",
            Error::BareLf { .. } => "Bad Request (Bare LF)",
            Error::BareCr { .. } => "Bad Request (Bare CR)",
            Error::StartLine { .. } => "Bad Request (Malformed Request Line)",
            Error::RequestUri { .. } => "Bad Request (Malformed Request-URI)",
            Error::HeaderSyntax { .. } => "Bad Request (Malformed Header)",
            Error::InvalidHeader { header, .. } => match header {
                HeaderName::Via => "Bad Request (Bad Via)",
                HeaderName::From => "Bad Request (Bad From)",
                HeaderName::To => "Bad Request (Bad To)",
                HeaderName::CallId => "Bad Request (Bad Call-ID)",
                HeaderName::CSeq => "Bad Request (Bad CSeq)",
                HeaderName::MaxForwards => "Bad Request (Bad Max-Forwards)",
                HeaderName::Contact => "Bad Request (Bad Contact)",
                HeaderName::ContentLength => "Bad Request (Bad Content-Length)",
                HeaderName::Expires => "Bad Request (Bad Expires)",
                HeaderName::Date => "Bad Request (Bad Date)",
                _ => "Bad Request (Bad Header)",
            },
            Error::MissingHeader { .. } => "Bad Request (Missing Header)",
            Error::DuplicateHeader { .. } => "Bad Request (Duplicate Header)",
            Error::ContentLengthExceedsBody { .. } => "Bad Request (Content-Length Too Large)",
            Error::MissingContentLength => "Bad Request (Missing Content-Length)",
            Error::CseqMethodMismatch {
                unknown_method: true,
            } => "Not Implemented",
            Error::CseqMethodMismatch { .. } => "Bad Request (CSeq Method Mismatch)",
        }
    }

    pub(crate) fn header(header: HeaderName, problem: HeaderProblem) -> Error {
        Error::InvalidHeader { header, problem }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(
            Error::UnsupportedVersion {
                version: "SIP/7.0".into()
            }
            .status(),
            505
        );
        assert_eq!(
            Error::TooLarge {
                size: 70000,
                limit: 65536
            }
            .status(),
            513
        );
        assert_eq!(
            Error::UnsupportedUriScheme {
                scheme: "http".into()
            }
            .status(),
            416
        );
        assert_eq!(
            Error::CseqMethodMismatch {
                unknown_method: false
            }
            .status(),
            400
        );
        assert_eq!(
            Error::CseqMethodMismatch {
                unknown_method: true
            }
            .status(),
            501
        );
    }
}
