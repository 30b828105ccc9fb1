//! Key layout. Keys are plain strings under a few prefixes, so that a
//! backend can list, watch and (for etcd) lease them by prefix.

/// The record families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    /// `ext/<number>`: extensions.
    Extension,
    /// `bind/<aor>/<binding id>`: registrations.
    Binding,
    /// `dlg/<call-id>;<from tag>;<to tag>`: confirmed dialogs.
    Dialog,
    /// `cdr/<end time, ms, 20 digits>/<id>`: call detail records.
    Cdr,
    /// `end/<call-id>;<caller's tag>`: a call whose CDR is written. The
    /// CDR batch requires it absent and creates it, so whichever node
    /// writes first writes the only CDR. Expires after a day.
    Ended,
}

impl Prefix {
    /// The prefix string, with its trailing `/`.
    pub fn as_str(self) -> &'static str {
        match self {
            Prefix::Extension => "ext/",
            Prefix::Binding => "bind/",
            Prefix::Dialog => "dlg/",
            Prefix::Cdr => "cdr/",
            Prefix::Ended => "end/",
        }
    }

    /// The family a key belongs to.
    pub fn of(key: &str) -> Option<Prefix> {
        [
            Prefix::Extension,
            Prefix::Binding,
            Prefix::Dialog,
            Prefix::Cdr,
            Prefix::Ended,
        ]
        .into_iter()
        .find(|p| key.starts_with(p.as_str()))
    }
}

/// The key of extension `number`.
pub fn extension_key(number: &str) -> String {
    format!("ext/{number}")
}

/// The key of a binding of `aor` with identity `id`.
pub fn binding_key(aor: &str, id: &str) -> String {
    format!("bind/{aor}/{id}")
}

/// The key of a dialog.
pub fn dialog_key(call_id: &str, from_tag: &str, to_tag: &str) -> String {
    format!("dlg/{call_id};{from_tag};{to_tag}")
}

/// The key of a CDR, ordered by end time.
pub fn cdr_key(end_ms: u64, id: &str) -> String {
    format!("cdr/{end_ms:020}/{id}")
}

/// The key marking that the call `call_id` from the caller's `from_tag`
/// has its CDR.
pub fn ended_key(call_id: &str, from_tag: &str) -> String {
    format!("end/{call_id};{from_tag}")
}

/// Where trunk registration states live (`trunk/<name>`); not part of the
/// replica, read by `tandem trunk status`.
pub const TRUNK_PREFIX: &str = "trunk/";

/// The key of trunk `name`'s registration state.
pub fn trunk_key(name: &str) -> String {
    format!("{TRUNK_PREFIX}{name}")
}
