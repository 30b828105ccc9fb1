//! The value envelope: how a record's expiry travels with its value.
//!
//! etcd keeps no expiry time per key, only a lease per key, and this
//! backend shares one lease among every key expiring in the same time
//! bucket (see the `expiry` module): the lease says when etcd will delete
//! the key, not when the record expires. So the exact `expires_at_ms` is
//! stored in front of the value, where every node reading the key (a
//! snapshot or a watch, on any node) finds it without asking etcd about
//! leases, and snapshots can hide a record as soon as it expires.
//!
//! The header is one short text line, so that an operator reading etcd
//! (`etcdctl get --prefix /tandem/`) still sees the JSON record under it:
//!
//! ```text
//! e1;1712345678901\n{"aor":"1000",...}     expires at that Unix millisecond
//! e1;\n{"number":"1000",...}               never expires
//! ```
//!
//! The bytes after the first newline are exactly what the caller wrote. A
//! value without the header (written by hand with `etcdctl put`, or a
//! coordination key under the same prefix) is returned as it is, without
//! expiry, rather than refused: a stray key must not make every snapshot
//! fail.

/// The header's tag: format version 1.
const TAG: &[u8] = b"e1;";

/// Wraps `value` with its expiry.
pub(crate) fn encode(value: &[u8], expires_at_ms: Option<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 24);
    out.extend_from_slice(TAG);
    if let Some(ms) = expires_at_ms {
        out.extend_from_slice(ms.to_string().as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(value);
    out
}

/// The caller's value and its expiry. Anything that is not a well-formed
/// envelope is returned whole, without expiry.
pub(crate) fn decode(stored: &[u8]) -> (&[u8], Option<u64>) {
    let Some(rest) = stored.strip_prefix(TAG) else {
        return (stored, None);
    };
    // Longest header: the tag, 20 digits (u64::MAX), the newline.
    let Some(nl) = rest.iter().take(21).position(|&b| b == b'\n') else {
        return (stored, None);
    };
    let (digits, value) = (&rest[..nl], &rest[nl + 1..]);
    if digits.is_empty() {
        return (value, None);
    }
    match std::str::from_utf8(digits).ok().and_then(|s| {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse::<u64>().ok())
            .flatten()
    }) {
        Some(ms) => (value, Some(ms)),
        None => (stored, None),
    }
}

/// The envelope's size for a value with this expiry, without building it.
pub(crate) fn overhead(expires_at_ms: Option<u64>) -> usize {
    TAG.len() + 1 + expires_at_ms.map_or(0, |ms| ms.to_string().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for (value, exp) in [
            (&b"{\"a\":1}"[..], None),
            (b"{\"a\":1}", Some(1_712_345_678_901)),
            (b"", Some(0)),
            (b"", None),
            (b"e1;5\nnested", Some(u64::MAX)),
            (b"\n\n", None),
        ] {
            let stored = encode(value, exp);
            assert_eq!(stored.len(), value.len() + overhead(exp));
            assert_eq!(decode(&stored), (value, exp));
        }
        assert_eq!(encode(b"{}", Some(42)), b"e1;42\n{}");
    }

    #[test]
    fn foreign_values_pass_through() {
        for stored in [
            &b"{\"raw\":true}"[..],
            b"",
            b"e1;",
            b"e1;12x\n{}",
            b"e1;-5\n{}",
            b"e1;123456789012345678901234\n{}",
            b"e1;99999999999999999999\n{}",
        ] {
            assert_eq!(decode(stored), (stored, None), "{stored:?}");
        }
    }
}
