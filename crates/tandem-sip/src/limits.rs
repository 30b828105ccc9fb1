//! Limits on what the parser accepts from the wire, and the parse options
//! that carry them. Defaults are safe for a public-facing proxy; every
//! value can be set from configuration.

/// Upper bounds applied while indexing a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest message accepted, in bytes (RFC 3261 §18.1.1 allows up to
    /// 65,535 over UDP; streams are held to the same bound).
    pub message_size_max: usize,
    /// Most header fields (lines, after unfolding) in one message.
    pub header_count_max: usize,
    /// Longest header line, in bytes, folded continuation lines included.
    pub header_line_len_max: usize,
    /// Most Via values in one message.
    pub via_count_max: usize,
    /// Most Route plus Record-Route values in one message.
    pub route_count_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            message_size_max: 65_536,
            header_count_max: 256,
            header_line_len_max: 16_384,
            via_count_max: 64,
            route_count_max: 64,
        }
    }
}

/// How strictly to read a message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParseOptions {
    /// The limits to enforce.
    pub limits: Limits,
    /// Accept bare LF line endings, as in messages pasted from an editor.
    /// The wire requires CRLF (RFC 3261 §7); this is for tools.
    pub accept_bare_lf: bool,
}
