//! The in-memory replica: what the SIP hot path reads. Fed by snapshots
//! and watches (every change, from every node) and by the node's own
//! commits, applied at once so that a REGISTER answered 200 is visible to
//! the very next INVITE. Changes carry revisions; an older one never
//! overwrites a newer one.

use crate::keys::Prefix;
use crate::records::{Binding, DialogRecord, Extension};
use crate::store::{Change, Record, Rev};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A replica shared by a node's shards.
pub type SharedReplica = Arc<RwLock<Replica>>;

#[derive(Debug, Clone)]
struct Versioned<T> {
    rev: Rev,
    value: T,
}

/// Typed, in-memory copy of the store.
#[derive(Debug, Default)]
pub struct Replica {
    rev: Rev,
    extensions: HashMap<String, Versioned<Extension>>,
    /// By AoR, then by key.
    bindings: HashMap<String, HashMap<String, Versioned<Binding>>>,
    dialogs: std::collections::BTreeMap<String, Versioned<DialogRecord>>,
    /// Binding keys by contact identity (see [`contact_identity`]), so that
    /// in-dialog requests to a registered contact find its flow at once.
    by_contact: HashMap<String, Vec<String>>,
    /// Revisions of keys deleted, so that a late Put older than the delete
    /// is ignored (pruned as the replica advances).
    deleted: HashMap<String, Rev>,
    /// Values that failed to decode, counted for diagnostics.
    corrupt: u64,
}

impl Replica {
    /// An empty replica, wrapped for sharing.
    pub fn shared() -> SharedReplica {
        Arc::new(RwLock::new(Replica::default()))
    }

    /// The highest revision applied.
    pub fn rev(&self) -> Rev {
        self.rev
    }

    /// Values that could not be decoded (they are skipped).
    pub fn corrupt_records(&self) -> u64 {
        self.corrupt
    }

    /// Forgets everything (before loading a fresh snapshot).
    pub fn clear(&mut self) {
        *self = Replica::default();
    }

    fn newer_than_known(&self, key: &str, rev: Rev) -> bool {
        let current = match Prefix::of(key) {
            Some(Prefix::Extension) => self.extensions.get(&key[4..]).map(|v| v.rev),
            Some(Prefix::Binding) => binding_aor(key)
                .and_then(|aor| self.bindings.get(aor))
                .and_then(|m| m.get(key))
                .map(|v| v.rev),
            Some(Prefix::Dialog) => self.dialogs.get(key).map(|v| v.rev),
            _ => None,
        };
        let deleted = self.deleted.get(key).copied();
        current.max(deleted).is_none_or(|known| rev > known)
    }

    /// Applies a change (from a watch or a local commit). Older changes
    /// than what is known for the key are ignored.
    pub fn apply(&mut self, change: &Change) {
        let rev = change.rev();
        if !self.newer_than_known(change.key(), rev) {
            return;
        }
        self.rev = self.rev.max(rev);
        match change {
            Change::Put(record) => self.put(record),
            Change::Delete { key, rev } => {
                self.remove(key);
                self.deleted.insert(key.clone(), *rev);
            }
        }
        if self.deleted.len() > 100_000 {
            let floor = self.rev.saturating_sub(1_000_000);
            self.deleted.retain(|_, r| *r > floor);
        }
    }

    /// Applies a batch this node committed at revision `rev`, at once, so
    /// that the next request sees it before the watch brings it back.
    pub fn apply_ops(&mut self, ops: &[crate::Op], rev: Rev) {
        for op in ops {
            let change = match op {
                crate::Op::Put {
                    key,
                    value,
                    expires_at_ms,
                } => Change::Put(Record {
                    key: key.clone(),
                    value: value.clone(),
                    rev,
                    expires_at_ms: *expires_at_ms,
                }),
                crate::Op::Delete { key } => Change::Delete {
                    key: key.clone(),
                    rev,
                },
                crate::Op::Require { .. } => continue,
            };
            self.apply(&change);
        }
    }

    /// Loads a snapshot's records (after [`Replica::clear`]).
    pub fn load(&mut self, rev: Rev, records: &[Record]) {
        for r in records {
            self.put(r);
        }
        self.rev = self.rev.max(rev);
    }

    fn put(&mut self, r: &Record) {
        self.deleted.remove(&r.key);
        let decode_failed = match Prefix::of(&r.key) {
            Some(Prefix::Extension) => match serde_json::from_slice::<Extension>(&r.value) {
                Ok(e) => {
                    self.extensions.insert(
                        r.key[4..].to_owned(),
                        Versioned {
                            rev: r.rev,
                            value: e,
                        },
                    );
                    false
                }
                Err(_) => true,
            },
            Some(Prefix::Binding) => match serde_json::from_slice::<Binding>(&r.value) {
                Ok(b) => {
                    let keys = self
                        .by_contact
                        .entry(contact_identity(&b.contact))
                        .or_default();
                    if !keys.contains(&r.key) {
                        keys.push(r.key.clone());
                    }
                    let aor = b.aor.clone();
                    if let Some(old) = self.bindings.entry(aor).or_default().insert(
                        r.key.clone(),
                        Versioned {
                            rev: r.rev,
                            value: b,
                        },
                    ) {
                        self.unindex_if_changed(&r.key, &old.value.contact);
                    }
                    false
                }
                Err(_) => true,
            },
            Some(Prefix::Dialog) => match serde_json::from_slice::<DialogRecord>(&r.value) {
                Ok(d) => {
                    self.dialogs.insert(
                        r.key.clone(),
                        Versioned {
                            rev: r.rev,
                            value: d,
                        },
                    );
                    false
                }
                Err(_) => true,
            },
            // CDRs are write-once history: not kept in memory.
            Some(Prefix::Cdr | Prefix::Ended) | None => false,
        };
        if decode_failed {
            self.corrupt += 1;
        }
    }

    fn remove(&mut self, key: &str) {
        match Prefix::of(key) {
            Some(Prefix::Extension) => {
                self.extensions.remove(&key[4..]);
            }
            Some(Prefix::Binding) => {
                if let Some(aor) = binding_aor(key) {
                    let mut removed = None;
                    if let Some(m) = self.bindings.get_mut(aor) {
                        removed = m.remove(key);
                        if m.is_empty() {
                            self.bindings.remove(aor);
                        }
                    }
                    if let Some(old) = removed {
                        self.unindex(key, &old.value.contact);
                    }
                }
            }
            Some(Prefix::Dialog) => {
                self.dialogs.remove(key);
            }
            _ => {}
        }
    }

    fn unindex(&mut self, key: &str, contact: &str) {
        let id = contact_identity(contact);
        if let Some(keys) = self.by_contact.get_mut(&id) {
            keys.retain(|k| k != key);
            if keys.is_empty() {
                self.by_contact.remove(&id);
            }
        }
    }

    /// After a binding was replaced: drop the old contact's index entry if
    /// the contact changed.
    fn unindex_if_changed(&mut self, key: &str, old_contact: &str) {
        let still = Prefix::of(key).is_some()
            && binding_aor(key)
                .and_then(|aor| self.bindings.get(aor))
                .and_then(|m| m.get(key))
                .is_some_and(|b| {
                    contact_identity(&b.value.contact) == contact_identity(old_contact)
                });
        if !still {
            self.unindex(key, old_contact);
        }
    }

    /// Live bindings whose contact has the same identity as `contact`
    /// (user, host and port; the caller compares parameters if it cares).
    pub fn bindings_by_contact(&self, contact: &str, now_ms: u64) -> Vec<&Binding> {
        let Some(keys) = self.by_contact.get(&contact_identity(contact)) else {
            return Vec::new();
        };
        keys.iter()
            .filter_map(|k| {
                binding_aor(k)
                    .and_then(|aor| self.bindings.get(aor))
                    .and_then(|m| m.get(k))
            })
            .map(|v| &v.value)
            .filter(|b| b.expires_at_ms > now_ms)
            .collect()
    }

    /// An extension by number.
    pub fn extension(&self, number: &str) -> Option<&Extension> {
        self.extensions.get(number).map(|v| &v.value)
    }

    /// Every extension, in number order.
    pub fn extensions(&self) -> Vec<&Extension> {
        let mut v: Vec<&Extension> = self.extensions.values().map(|v| &v.value).collect();
        v.sort_by(|a, b| a.number.cmp(&b.number));
        v
    }

    /// The live bindings of an AoR at `now_ms`, with their keys, best q first.
    pub fn bindings(&self, aor: &str, now_ms: u64) -> Vec<(&str, &Binding)> {
        let mut v: Vec<(&str, &Binding)> = self
            .bindings
            .get(aor)
            .map(|m| {
                m.iter()
                    .filter(|(_, b)| b.value.expires_at_ms > now_ms)
                    .map(|(k, b)| (k.as_str(), &b.value))
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by(|a, b| {
            b.1.q_millis
                .cmp(&a.1.q_millis)
                .then(a.1.registered_at_ms.cmp(&b.1.registered_at_ms))
        });
        v
    }

    /// Every live binding, for listings.
    pub fn all_bindings(&self, now_ms: u64) -> Vec<&Binding> {
        let mut v: Vec<&Binding> = self
            .bindings
            .values()
            .flat_map(|m| m.values())
            .map(|b| &b.value)
            .filter(|b| b.expires_at_ms > now_ms)
            .collect();
        v.sort_by(|a, b| a.aor.cmp(&b.aor).then(a.contact.cmp(&b.contact)));
        v
    }

    /// Live bindings in all.
    pub fn binding_count(&self, now_ms: u64) -> usize {
        self.bindings
            .values()
            .flat_map(|m| m.values())
            .filter(|b| b.value.expires_at_ms > now_ms)
            .count()
    }

    /// A dialog by its key.
    pub fn dialog(&self, key: &str) -> Option<&DialogRecord> {
        self.dialogs.get(key).map(|v| &v.value)
    }

    /// Every tracked dialog.
    pub fn dialogs(&self) -> impl Iterator<Item = &DialogRecord> {
        self.dialogs.values().map(|v| &v.value)
    }

    /// Every tracked dialog with its key and revision (duty scans).
    pub fn dialog_entries(&self) -> impl Iterator<Item = (&str, Rev, &DialogRecord)> {
        self.dialogs
            .iter()
            .map(|(k, v)| (k.as_str(), v.rev, &v.value))
    }

    /// Whether any dialog of the call `call_id` from the caller's
    /// `from_tag` is tracked (a forked call may have several).
    pub fn call_has_dialog(&self, call_id: &str, from_tag: &str) -> bool {
        let prefix = format!("dlg/{call_id};{from_tag};");
        self.dialogs
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&prefix))
    }
}

/// What identifies a contact for lookups: `user@host:port`, lower case,
/// without scheme and parameters.
pub fn contact_identity(contact: &str) -> String {
    let s = contact.trim().trim_start_matches('<');
    let s = s.split_once(':').map_or(s, |(scheme, rest)| {
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            rest
        } else {
            s
        }
    });
    let end = s.find([';', '?', '>']).unwrap_or(s.len());
    s[..end].to_ascii_lowercase()
}

/// The AoR part of a binding key `bind/<aor>/<id>`.
fn binding_aor(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("bind/")?;
    rest.rfind('/').map(|i| &rest[..i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::FlowRecord;

    fn binding(aor: &str, contact: &str, q: u16, exp: u64) -> Binding {
        Binding {
            aor: aor.into(),
            contact: contact.into(),
            instance: None,
            reg_id: None,
            q_millis: q,
            expires_at_ms: exp,
            call_id: "c".into(),
            cseq: 1,
            path: vec![],
            source: FlowRecord {
                transport: "udp".into(),
                remote: "127.0.0.1:5070".into(),
                local: "127.0.0.1:5060".into(),
                connection: None,
                node: "n1".into(),
            },
            user_agent: None,
            registered_at_ms: 0,
        }
    }

    fn put(key: &str, value: &impl serde::Serialize, rev: Rev) -> Change {
        Change::Put(Record {
            key: key.into(),
            value: serde_json::to_vec(value).unwrap(),
            rev,
            expires_at_ms: None,
        })
    }

    #[test]
    fn bindings_by_q_and_expiry() {
        let mut r = Replica::default();
        r.apply(&put(
            "bind/1000/a",
            &binding("1000", "sip:a@h", 500, 2000),
            1,
        ));
        r.apply(&put(
            "bind/1000/b",
            &binding("1000", "sip:b@h", 1000, 3000),
            2,
        ));
        let v = r.bindings("1000", 1000);
        assert_eq!(
            v.iter()
                .map(|(_, b)| b.contact.as_str())
                .collect::<Vec<_>>(),
            ["sip:b@h", "sip:a@h"]
        );
        assert_eq!(r.bindings("1000", 2500).len(), 1);
        assert_eq!(r.rev(), 2);
    }

    #[test]
    fn old_changes_do_not_overwrite_new_ones() {
        let mut r = Replica::default();
        r.apply(&put(
            "bind/1000/a",
            &binding("1000", "sip:new@h", 1000, 9000),
            5,
        ));
        r.apply(&put(
            "bind/1000/a",
            &binding("1000", "sip:old@h", 1000, 9000),
            3,
        ));
        assert_eq!(r.bindings("1000", 0)[0].1.contact, "sip:new@h");
        r.apply(&Change::Delete {
            key: "bind/1000/a".into(),
            rev: 6,
        });
        r.apply(&put(
            "bind/1000/a",
            &binding("1000", "sip:older@h", 1000, 9000),
            4,
        ));
        assert!(r.bindings("1000", 0).is_empty());
    }

    #[test]
    fn aor_with_slashes_is_not_confused() {
        assert_eq!(binding_aor("bind/1000/abc"), Some("1000"));
        assert_eq!(binding_aor("bind/a/b/c"), Some("a/b"));
    }
}
