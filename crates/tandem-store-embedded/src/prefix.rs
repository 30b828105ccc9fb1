//! Prefix ranges. A prefix is turned into a key range `[prefix, upper)` so
//! that SQLite walks the primary-key index instead of scanning: with the
//! default BINARY collation, text compares as UTF-8 bytes, which is code
//! point order, so incrementing the last character gives the bound.

/// The smallest string greater than every string starting with `prefix`,
/// or `None` when no such bound exists (empty prefix, or only `char::MAX`).
pub(crate) fn upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = next_char(last) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

fn next_char(c: char) -> Option<char> {
    let n = u32::from(c) + 1;
    // Surrogates are not characters: the next one after U+D7FF is U+E000.
    char::from_u32(if n == 0xD800 { 0xE000 } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert_eq!(upper_bound(""), None);
        assert_eq!(upper_bound("ext/").as_deref(), Some("ext0"));
        assert_eq!(upper_bound("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(upper_bound("\u{10FFFF}"), None);
    }

    #[test]
    fn every_key_with_the_prefix_is_inside_and_no_other() {
        let prefix = "bind/10";
        let upper = upper_bound(prefix).unwrap_or_default();
        for key in [
            "bind/10",
            "bind/10/x",
            "bind/10\u{10FFFF}",
            "bind/100",
            "bind/1",
            "bind/11",
            "bind/2",
            "c",
        ] {
            let inside = key >= prefix && key < upper.as_str();
            assert_eq!(inside, key.starts_with(prefix), "{key}");
        }
    }
}
