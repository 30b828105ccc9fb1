//! The basic rules of the SIP grammar (RFC 3261 §25.1): character classes,
//! linear white space, tokens and quoted strings.
//!
//! Every typed header parser is built from these. They work on `&str`
//! values that the header index has already unfolded (RFC 3261 §7.3.1), so
//! linear white space here is only SP and HTAB.

/// Builds a 256-entry membership table from a list of ASCII bytes plus the
/// alphanumerics.
const fn table_with_alnum(extra: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = true;
        c += 1;
    }
    c = b'a';
    while c <= b'z' {
        t[c as usize] = true;
        t[(c - 32) as usize] = true;
        c += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    t
}

/// `token` characters (RFC 3261 §25.1).
static TOKEN: [bool; 256] = table_with_alnum(b"-.!%*_+`'~");
/// `word` characters (RFC 3261 §25.1), used by Call-ID.
static WORD: [bool; 256] = table_with_alnum(b"-.!%*_+`'~()<>:\\\"/[]?{}");
/// `unreserved` plus the `user-unreserved` marks, and `%` for escapes (RFC 3261 §25.1).
static USER: [bool; 256] = table_with_alnum(b"-_.!~*'()&=+$,;?/%");
/// `password` characters (RFC 3261 §25.1).
static PASSWORD: [bool; 256] = table_with_alnum(b"-_.!~*'()&=+$,%");
/// `paramchar`: `param-unreserved`, `unreserved` and `%` (RFC 3261 §25.1).
static PARAMCHAR: [bool; 256] = table_with_alnum(b"[]/:&+$-_.!~*'()%");
/// `hnv-unreserved`, `unreserved` and `%` for URI headers (RFC 3261 §25.1).
static HNVCHAR: [bool; 256] = table_with_alnum(b"[]/?:+$-_.!~*'()%");
/// `uric` (RFC 2396 §2) for absolute URIs other than SIP, SIPS and TEL.
static URIC: [bool; 256] = table_with_alnum(b";/?:@&=+$,-_.!~*'()%#[]");

/// Is `b` a `token` character?
#[inline]
pub(crate) fn is_token_char(b: u8) -> bool {
    TOKEN[b as usize]
}

/// Is `b` a `word` character (Call-ID)?
#[inline]
pub(crate) fn is_word_char(b: u8) -> bool {
    WORD[b as usize]
}

/// Is `b` allowed unescaped in the user part of a SIP URI?
#[inline]
pub(crate) fn is_user_char(b: u8) -> bool {
    USER[b as usize]
}

/// Is `b` allowed unescaped in the password part of a SIP URI?
#[inline]
pub(crate) fn is_password_char(b: u8) -> bool {
    PASSWORD[b as usize]
}

/// Is `b` allowed in a URI parameter name or value?
#[inline]
pub(crate) fn is_paramchar(b: u8) -> bool {
    PARAMCHAR[b as usize]
}

/// Is `b` allowed in a URI header name or value?
#[inline]
pub(crate) fn is_hnvchar(b: u8) -> bool {
    HNVCHAR[b as usize]
}

/// Is `b` allowed in an absolute URI of another scheme?
#[inline]
pub(crate) fn is_uric(b: u8) -> bool {
    URIC[b as usize]
}

/// Is `b` SP or HTAB?
#[inline]
pub(crate) fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Is the whole of `s` a non-empty token?
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// Checks that every `%` in `s` starts a valid `%HH` escape.
pub(crate) fn escapes_valid(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if i + 2 >= b.len() || !(b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit()) {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

/// A cursor over a header value or URI: the small lexer every typed parser
/// uses. Positions are byte offsets into the underlying `&str`.
#[derive(Debug, Clone)]
pub(crate) struct Scanner<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Scanner { s, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.s.len()
    }

    pub(crate) fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    pub(crate) fn slice(&self, from: usize, to: usize) -> &'a str {
        &self.s[from..to]
    }

    /// Skips SP and HTAB; returns whether anything was skipped.
    pub(crate) fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        let b = self.s.as_bytes();
        while self.pos < b.len() && is_ws(b[self.pos]) {
            self.pos += 1;
        }
        self.pos != start
    }

    /// Consumes `c` if it is next, without skipping white space.
    pub(crate) fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes `SWS c SWS` (RFC 3261 §25.1 separators such as `SEMI`,
    /// `COMMA`, `EQUAL`, `SLASH`, `COLON`). Leaves the cursor untouched if
    /// `c` is not next after optional white space.
    pub(crate) fn eat_sep(&mut self, c: u8) -> bool {
        let save = self.pos;
        self.skip_ws();
        if self.eat(c) {
            self.skip_ws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    /// Consumes a run of bytes for which `pred` holds; returns it (possibly empty).
    pub(crate) fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        let b = self.s.as_bytes();
        while self.pos < b.len() && pred(b[self.pos]) {
            self.pos += 1;
        }
        // Every predicate used accepts ASCII only, so the cut is on a char boundary.
        &self.s[start..self.pos]
    }

    /// Consumes a token; `None` if the next byte does not start one.
    pub(crate) fn token(&mut self) -> Option<&'a str> {
        let t = self.take_while(is_token_char);
        (!t.is_empty()).then_some(t)
    }

    /// Consumes a quoted string (RFC 3261 §25.1 `quoted-string`, without
    /// leading white space) and returns it with its quotes. `None` if the
    /// next byte is not `"` or the string is not terminated.
    pub(crate) fn quoted_string(&mut self) -> Option<&'a str> {
        let b = self.s.as_bytes();
        let start = self.pos;
        if b.get(start) != Some(&b'"') {
            return None;
        }
        let mut i = start + 1;
        while i < b.len() {
            match b[i] {
                b'"' => {
                    self.pos = i + 1;
                    return Some(&self.s[start..self.pos]);
                }
                b'\\' => {
                    // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                    match b.get(i + 1) {
                        Some(&c) if c <= 0x7f && c != b'\n' && c != b'\r' => i += 2,
                        _ => return None,
                    }
                }
                // qdtext excludes the other control characters.
                c if c < 0x20 && c != b'\t' => return None,
                0x7f => return None,
                _ => i += 1,
            }
        }
        None
    }
}

/// Removes the quotes and quoted-pair escapes of a `quoted-string`.
pub fn unquote(quoted: &str) -> std::borrow::Cow<'_, str> {
    let inner = quoted
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(quoted);
    if !inner.contains('\\') {
        return std::borrow::Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Decodes `%HH` escapes. Invalid escapes are kept as they are.
pub fn percent_decode(s: &str) -> std::borrow::Cow<'_, [u8]> {
    if !s.contains('%') {
        return std::borrow::Cow::Borrowed(s.as_bytes());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

/// Splits a header value at top-level commas: commas inside quoted strings
/// and inside `<...>` do not separate values (RFC 3261 §7.3.1). Each piece
/// is trimmed of surrounding white space.
pub(crate) fn split_commas(s: &str) -> CommaSplit<'_> {
    CommaSplit {
        s,
        pos: 0,
        done: false,
    }
}

/// Iterator returned by [`split_commas`].
pub(crate) struct CommaSplit<'a> {
    s: &'a str,
    pos: usize,
    done: bool,
}

impl<'a> Iterator for CommaSplit<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.done {
            return None;
        }
        let b = self.s.as_bytes();
        let start = self.pos;
        let mut i = start;
        let mut in_quote = false;
        let mut in_angle = false;
        while i < b.len() {
            match b[i] {
                b'\\' if in_quote => i += 1,
                b'"' if !in_angle => in_quote = !in_quote,
                b'<' if !in_quote => in_angle = true,
                b'>' if !in_quote => in_angle = false,
                b',' if !in_quote && !in_angle => break,
                _ => {}
            }
            i += 1;
        }
        let end = i.min(b.len());
        if i >= b.len() {
            self.done = true;
            self.pos = b.len();
        } else {
            self.pos = i + 1;
        }
        Some(self.s[start..end].trim_matches(|c| c == ' ' || c == '\t'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_string_with_escapes_and_controls() {
        let mut sc = Scanner::new("\"BEL:\\\x07 NUL:\\\x00\" rest");
        assert_eq!(sc.quoted_string(), Some("\"BEL:\\\x07 NUL:\\\x00\""));
        assert_eq!(sc.rest(), " rest");
        assert_eq!(Scanner::new("\"unterminated").quoted_string(), None);
        assert_eq!(Scanner::new("\"raw\x07ctl\"").quoted_string(), None);
    }

    #[test]
    fn unquote_removes_escapes() {
        assert_eq!(unquote("\"a\\\"b\""), "a\"b");
        assert_eq!(unquote("\"plain\""), "plain");
    }

    #[test]
    fn commas_respect_quotes_and_angles() {
        let v: Vec<_> = split_commas("\"a, b\" <sip:x,y@h>;p=1 , <sip:z@h>,sip:w@h").collect();
        assert_eq!(v, ["\"a, b\" <sip:x,y@h>;p=1", "<sip:z@h>", "sip:w@h"]);
    }

    #[test]
    fn escapes() {
        assert!(escapes_valid("a%20b"));
        assert!(!escapes_valid("a%2"));
        assert!(!escapes_valid("%ZZ"));
        assert_eq!(&*percent_decode("a%40b%"), b"a@b%");
    }
}
