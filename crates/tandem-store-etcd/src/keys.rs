//! Key handling: the cluster prefix every key lives under, prefix ranges
//! in etcd's byte order, and the limits a write is checked against before
//! it is sent (so that a bad batch is refused as `Invalid` on the caller's
//! side instead of failing a transaction shared with other callers).

use crate::envelope;
use std::collections::HashMap;
use tandem_store::{Error, Expect, Op};

/// The longest key accepted, in bytes: the embedded backend's limit, so
/// that whatever commits on one backend commits on the other.
pub const MAX_KEY_BYTES: usize = 4096;
/// The largest value accepted, in bytes: the embedded backend's limit,
/// under etcd's default 1.5 MiB request limit (`--max-request-bytes`).
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;
/// The most distinct keys one commit may touch: etcd's default
/// `--max-txn-ops`. Group commit never merges past it either.
pub const MAX_TXN_OPS: usize = 128;
/// The most bytes (keys and enveloped values) one transaction carries:
/// etcd refuses requests over 1.5 MiB (`--max-request-bytes`), and this
/// leaves room for the protobuf framing.
pub const MAX_TXN_BYTES: usize = 1_400_000;

/// `prefix` + `key`, as etcd stores it.
pub(crate) fn full(prefix: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + key.len());
    k.extend_from_slice(prefix.as_bytes());
    k.extend_from_slice(key.as_bytes());
    k
}

/// The end of the range holding every key that starts with `prefix` (etcd
/// compares keys as bytes): the prefix with its last byte below 0xff
/// incremented, or `[0]` (etcd's "to the end of the keyspace") when there
/// is no such byte.
pub(crate) fn range_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(&last) = end.last() {
        if last < 0xff {
            if let Some(b) = end.last_mut() {
                *b = last + 1;
            }
            return end;
        }
        end.pop();
    }
    vec![0]
}

/// The caller's key of an etcd key: without the cluster prefix. `None` for
/// a key outside it or not UTF-8 (never written by tandem).
pub(crate) fn strip<'a>(prefix: &str, full: &'a [u8]) -> Option<&'a str> {
    std::str::from_utf8(full.strip_prefix(prefix.as_bytes())?).ok()
}

/// Checks a caller's key.
pub(crate) fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() {
        return Err(invalid(key, "empty key".to_owned()));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(invalid(
            key,
            format!("key of {} bytes, limit {MAX_KEY_BYTES}", key.len()),
        ));
    }
    Ok(())
}

pub(crate) fn invalid(key: &str, reason: String) -> Error {
    Error::Invalid {
        key: key.to_owned(),
        reason,
    }
}

/// A commit reduced to what one etcd transaction carries.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Checked {
    /// Conditions on the state before the commit (etcd compares).
    pub(crate) requires: Vec<(String, Expect)>,
    /// Puts and deletes, one per key.
    pub(crate) writes: Vec<Op>,
    /// Transaction bytes they need (without the cluster prefix).
    pub(crate) bytes: usize,
}

/// Checks a commit and reduces it to what etcd takes.
///
/// - **Writes:** one op per key, the last one, in the order of those last
///   ops: etcd refuses a transaction that touches a key twice, and the
///   last op alone has the batch's effect (as in the embedded backend, a
///   watcher sees the effect, not the steps).
/// - **Conditions** see the batch's earlier ops, as in the embedded
///   backend. etcd evaluates every compare before any write, so a
///   condition on a key the batch already wrote is decided here (a
///   `Rev` cannot hold: the new revision is not known yet), and only
///   conditions on untouched keys become compares. A condition decided
///   false fails the commit with `Conflict` without sending it.
pub(crate) fn prepare(ops: Vec<Op>) -> Result<Checked, Error> {
    for op in &ops {
        check_key(op.key())?;
        if let Op::Put { key, value, .. } = op {
            if value.len() > MAX_VALUE_BYTES {
                return Err(invalid(
                    key,
                    format!("value of {} bytes, limit {MAX_VALUE_BYTES}", value.len()),
                ));
            }
        }
    }
    // Whether each key written so far is present after the batch's ops.
    let mut written: HashMap<&str, bool> = HashMap::new();
    let mut requires = Vec::new();
    for op in &ops {
        match op {
            Op::Put { key, .. } => {
                written.insert(key, true);
            }
            Op::Delete { key } => {
                written.insert(key, false);
            }
            Op::Require { key, expect } => match written.get(key.as_str()) {
                None => requires.push((key.clone(), *expect)),
                Some(&present) => {
                    let holds = match expect {
                        Expect::Absent => !present,
                        Expect::Present => present,
                        Expect::Rev(_) => false,
                    };
                    if !holds {
                        return Err(Error::Conflict { key: key.clone() });
                    }
                }
            },
        }
    }
    let last: HashMap<&str, usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| !matches!(op, Op::Require { .. }))
        .map(|(i, op)| (op.key(), i))
        .collect();
    let keep: Vec<bool> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| last.get(op.key()) == Some(&i))
        .collect();
    drop(last);
    drop(written);
    let writes: Vec<Op> = ops
        .into_iter()
        .zip(keep)
        .filter_map(|(op, keep)| keep.then_some(op))
        .collect();
    let first = writes
        .first()
        .map(Op::key)
        .or(requires.first().map(|(k, _)| k.as_str()))
        .unwrap_or_default();
    if writes.len() > MAX_TXN_OPS || requires.len() > MAX_TXN_OPS {
        return Err(invalid(
            first,
            format!(
                "a commit of {} writes and {} conditions; etcd takes at most {MAX_TXN_OPS} of \
                 each per transaction",
                writes.len(),
                requires.len()
            ),
        ));
    }
    let bytes = writes.iter().map(op_bytes).sum::<usize>()
        + requires
            .iter()
            .map(|(k, _)| 2 * (k.len() + FRAMING))
            .sum::<usize>();
    if bytes > MAX_TXN_BYTES {
        return Err(invalid(
            first,
            format!(
                "a commit of {bytes} bytes; etcd takes at most {MAX_TXN_BYTES} per transaction"
            ),
        ));
    }
    Ok(Checked {
        requires,
        writes,
        bytes,
    })
}

/// Protobuf framing counted per op.
const FRAMING: usize = 32;

/// What a write adds to a transaction (key, enveloped value, framing),
/// without the cluster prefix, which is small.
fn op_bytes(op: &Op) -> usize {
    match op {
        Op::Put {
            key,
            value,
            expires_at_ms,
        } => key.len() + value.len() + envelope::overhead(*expires_at_ms) + FRAMING,
        Op::Delete { key } | Op::Require { key, .. } => key.len() + FRAMING,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, v: &str) -> Op {
        Op::Put {
            key: key.into(),
            value: v.as_bytes().to_vec(),
            expires_at_ms: None,
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(range_end(b"/t/"), b"/t0");
        assert_eq!(range_end(b"a\xff"), b"b");
        assert_eq!(range_end(b"\xff\xff"), [0]);
        assert_eq!(range_end(b""), [0]);
    }

    #[test]
    fn strip_prefix() {
        assert_eq!(strip("/t/", b"/t/ext/1"), Some("ext/1"));
        assert_eq!(strip("/t/", b"/u/ext/1"), None);
    }

    fn writes(ops: Vec<Op>) -> Vec<Op> {
        prepare(ops).unwrap().writes
    }

    fn require(key: &str, expect: Expect) -> Op {
        Op::Require {
            key: key.into(),
            expect,
        }
    }

    #[test]
    fn last_op_per_key_wins_in_order() {
        let ops = writes(vec![
            put("a", "1"),
            put("b", "1"),
            Op::Delete { key: "a".into() },
            put("c", "1"),
            put("b", "2"),
        ]);
        assert_eq!(
            ops,
            vec![Op::Delete { key: "a".into() }, put("c", "1"), put("b", "2")]
        );
    }

    #[test]
    fn conditions_see_the_batch_s_earlier_writes() {
        // On untouched keys: sent as compares, writes kept.
        let c = prepare(vec![
            require("a", Expect::Absent),
            put("a", "1"),
            require("b", Expect::Rev(7)),
        ])
        .unwrap();
        assert_eq!(
            c.requires,
            vec![("a".into(), Expect::Absent), ("b".into(), Expect::Rev(7))]
        );
        assert_eq!(c.writes, vec![put("a", "1")]);
        // After a write: decided here.
        let ok = prepare(vec![put("a", "1"), require("a", Expect::Present)]).unwrap();
        assert!(ok.requires.is_empty());
        for (ops, key) in [
            (vec![put("a", "1"), require("a", Expect::Absent)], "a"),
            (vec![put("a", "1"), require("a", Expect::Rev(1))], "a"),
            (
                vec![
                    put("x", "1"),
                    Op::Delete { key: "b".into() },
                    require("b", Expect::Present),
                ],
                "b",
            ),
        ] {
            assert_eq!(prepare(ops), Err(Error::Conflict { key: key.into() }));
        }
    }

    #[test]
    fn refusals() {
        assert!(matches!(
            prepare(vec![put("", "x")]),
            Err(Error::Invalid { .. })
        ));
        assert!(matches!(
            prepare(vec![require("", Expect::Absent)]),
            Err(Error::Invalid { .. })
        ));
        let big = Op::Put {
            key: "k".into(),
            value: vec![0; MAX_VALUE_BYTES + 1],
            expires_at_ms: None,
        };
        assert!(matches!(prepare(vec![big]), Err(Error::Invalid { .. })));
        let many: Vec<Op> = (0..=MAX_TXN_OPS)
            .map(|i| put(&format!("k{i}"), ""))
            .collect();
        assert!(matches!(prepare(many), Err(Error::Invalid { .. })));
        let two_big: Vec<Op> = (0..2)
            .map(|i| Op::Put {
                key: format!("k{i}"),
                value: vec![0; MAX_VALUE_BYTES],
                expires_at_ms: None,
            })
            .collect();
        assert!(matches!(prepare(two_big), Err(Error::Invalid { .. })));
        // Many writes to one key are one op.
        let same: Vec<Op> = (0..1000).map(|i| put("k", &i.to_string())).collect();
        assert_eq!(writes(same), vec![put("k", "999")]);
    }
}
