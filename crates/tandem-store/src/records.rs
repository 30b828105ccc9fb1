//! The records tandem keeps, as stored (JSON values, so that an operator
//! reading etcd or the embedded database can make sense of them).

use serde::{Deserialize, Serialize};

/// An extension: a user who registers phones and places calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    /// The number (the user part of its address of record).
    pub number: String,
    /// Name shown to callees.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The digest realm the hashes below were made for.
    pub realm: String,
    /// MD5(number:realm:password), hex (RFC 2617 HA1).
    pub ha1_md5: String,
    /// SHA-256(number:realm:password), hex (RFC 7616 / RFC 8760 HA1).
    pub ha1_sha256: String,
    /// Whether the password is one of the published demo passwords.
    #[serde(default)]
    pub demo_password: bool,
    /// Outbound caller ID, if different from the number.
    #[serde(default)]
    pub caller_id: Option<String>,
    /// Group used by outbound rules (later issues).
    #[serde(default)]
    pub group: Option<String>,
}

/// The path a registration arrived on: where to reach the phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowRecord {
    /// `udp`, `tcp`, `tls`, `ws`, `wss`.
    pub transport: String,
    /// The phone's address as seen by the node.
    pub remote: String,
    /// The node's address the phone sent to.
    pub local: String,
    /// The connection, on connection-oriented transports.
    #[serde(default)]
    pub connection: Option<u64>,
    /// The node holding that connection.
    #[serde(default)]
    pub node: String,
}

/// A registered contact of an address of record (RFC 3261 §10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The address of record (extension number).
    pub aor: String,
    /// The Contact URI as registered.
    pub contact: String,
    /// RFC 5626 `+sip.instance`.
    #[serde(default)]
    pub instance: Option<String>,
    /// RFC 5626 `reg-id`.
    #[serde(default)]
    pub reg_id: Option<u32>,
    /// Preference, thousandths (1000 = q=1.0).
    pub q_millis: u16,
    /// When the binding expires, Unix milliseconds.
    pub expires_at_ms: u64,
    /// The REGISTER's Call-ID and CSeq (RFC 3261 §10.3 step 7).
    pub call_id: String,
    /// See `call_id`.
    pub cseq: u32,
    /// Path header values (RFC 3327), top first.
    #[serde(default)]
    pub path: Vec<String>,
    /// Where the REGISTER came from.
    pub source: FlowRecord,
    /// The phone's User-Agent.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// When it was first registered, Unix milliseconds.
    pub registered_at_ms: u64,
}

/// Where a call is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DialogState {
    /// A provisional response with a To tag was seen.
    Early,
    /// A 2xx was seen.
    Confirmed,
    /// BYE or failure ended it.
    Terminated,
}

/// A call through the proxy, as tracked for routing, duties and its CDR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialogRecord {
    /// Call-ID.
    pub call_id: String,
    /// The caller's tag.
    pub from_tag: String,
    /// The callee's tag.
    pub to_tag: String,
    /// Who called (user part or URI).
    pub caller: String,
    /// Who was called.
    pub callee: String,
    /// The state.
    pub state: DialogState,
    /// When the INVITE arrived, Unix milliseconds.
    pub started_ms: u64,
    /// When the 2xx arrived.
    #[serde(default)]
    pub answered_ms: Option<u64>,
    /// The node that owns the call's duties (CDR, timers).
    #[serde(default)]
    pub owner: String,
    /// Session interval agreed (RFC 4028), seconds.
    #[serde(default)]
    pub session_expires_secs: Option<u32>,
}

/// Who ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HangupBy {
    /// The caller sent BYE or CANCEL.
    Caller,
    /// The callee sent BYE or declined.
    Callee,
    /// tandem ended it (timeout, failure, shutdown).
    System,
}

/// A call detail record, written once when a call ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cdr {
    /// Unique id.
    pub id: String,
    /// Call-ID.
    pub call_id: String,
    /// Caller.
    pub caller: String,
    /// Callee (the dialled number).
    pub callee: String,
    /// When the INVITE arrived, Unix milliseconds.
    pub start_ms: u64,
    /// When it was answered, if it was.
    pub answer_ms: Option<u64>,
    /// When it ended.
    pub end_ms: u64,
    /// Talk time (answer to end), milliseconds; 0 if unanswered.
    pub duration_ms: u64,
    /// `answered`, `busy`, `no-answer`, `cancelled`, `failed`, `unavailable`, `not-found`, `timeout`.
    pub end_cause: String,
    /// The final status of the INVITE.
    pub status: u16,
    /// Who hung up, for answered or cancelled calls.
    pub hangup_by: Option<HangupBy>,
    /// The node that wrote it.
    #[serde(default)]
    pub node: String,
}

/// A carrier trunk's registration as its registering node last saw it
/// (`trunk/<name>`), written by the leader only, for `tandem trunk status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrunkRecord {
    /// The trunk's name.
    pub name: String,
    /// `registering`, `registered`, `backing_off`, `failed`, `unregistered`.
    pub state: String,
    /// When the carrier's binding ends, Unix ms (while registered).
    #[serde(default)]
    pub expires_at_ms: Option<u64>,
    /// The last final status from the carrier (0: none; 408: no answer).
    #[serde(default)]
    pub last_status: u16,
    /// When the next attempt is due while backing off, Unix ms.
    #[serde(default)]
    pub retry_at_ms: Option<u64>,
    /// Failures in a row.
    #[serde(default)]
    pub failures: u32,
    /// The node that registers it.
    pub node: String,
    /// That node's leader epoch.
    pub epoch: u64,
    /// When this was written, Unix ms.
    pub updated_ms: u64,
}
