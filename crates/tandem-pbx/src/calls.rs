//! Calls as the proxy sees them: an INVITE that is answered becomes a
//! confirmed dialog, stored so that any node can route its BYE and write
//! its CDR; every call attempt ends with exactly one CDR (answered calls
//! when the BYE passes, the others when their final response does).

use crate::core::{Core, Now, Pending};
use std::collections::{HashMap, HashSet, VecDeque};
use tandem_sip::Message;
use tandem_store::{cdr_key, dialog_key, Cdr, DialogRecord, DialogState, HangupBy, Op};

/// Calls known to this core: dialogs it confirmed (until their records are
/// certainly in the replica) and dialogs it ended (so that a second BYE
/// writes no second CDR).
#[derive(Debug, Default)]
pub(crate) struct Calls {
    pub(crate) local: HashMap<String, DialogRecord>,
    ended: HashSet<String>,
    ended_order: VecDeque<String>,
}

impl Calls {
    /// Marks a dialog ended; false if it already was.
    fn end(&mut self, key: &str) -> bool {
        self.local.remove(key);
        if !self.ended.insert(key.to_owned()) {
            return false;
        }
        self.ended_order.push_back(key.to_owned());
        if self.ended_order.len() > 100_000 {
            if let Some(old) = self.ended_order.pop_front() {
                self.ended.remove(&old);
            }
        }
        true
    }
}

/// What the proxy remembers of a call while it is being set up.
#[derive(Debug, Clone)]
pub(crate) struct CallTrack {
    call_id: String,
    from_tag: String,
    caller: String,
    callee: String,
    start_ms: u64,
}

impl CallTrack {
    pub(crate) fn new(invite: &Message, caller: String, callee: String, now: Now) -> CallTrack {
        CallTrack {
            call_id: invite.call_id().unwrap_or_default().to_owned(),
            from_tag: invite.from_tag().unwrap_or_default().to_owned(),
            caller,
            callee,
            start_ms: now.unix_ms,
        }
    }
}

/// The CDR end cause for an unanswered call's final status.
fn end_cause(code: u16, cancelled: bool) -> &'static str {
    match code {
        _ if cancelled => "cancelled",
        487 => "cancelled",
        486 | 600 => "busy",
        408 => "no-answer",
        480 => "unavailable",
        404 | 604 => "not-found",
        603 => "declined",
        _ => "failed",
    }
}

impl Core {
    fn write_records(&mut self, ops: Vec<Op>) {
        self.commit(ops.clone(), Pending::Record(ops));
    }

    fn cdr_id(&mut self) -> String {
        self.tag()
    }

    /// A 2xx to an INVITE went upstream: the call is a confirmed dialog.
    pub(crate) fn call_answered(&mut self, now: Now, call: &CallTrack, to_tag: &str) {
        self.stats.calls_answered += 1;
        let dialog = DialogRecord {
            call_id: call.call_id.clone(),
            from_tag: call.from_tag.clone(),
            to_tag: to_tag.to_owned(),
            caller: call.caller.clone(),
            callee: call.callee.clone(),
            state: DialogState::Confirmed,
            started_ms: call.start_ms,
            answered_ms: Some(now.unix_ms),
            owner: self.config.node.clone(),
            session_expires_secs: None,
        };
        let key = dialog_key(&call.call_id, &call.from_tag, to_tag);
        let ops = vec![Op::Put {
            key: key.clone(),
            value: serde_json::to_vec(&dialog).unwrap_or_default(),
            expires_at_ms: Some(now.unix_ms + self.config.call_max_secs * 1000),
        }];
        // Known here at once, whatever the commit's timing: a quick BYE
        // must still find its dialog.
        self.calls.local.insert(key, dialog);
        self.write_records(ops);
    }

    /// An INVITE ended without being answered.
    pub(crate) fn call_ended_unanswered(
        &mut self,
        now: Now,
        call: &CallTrack,
        code: u16,
        cancelled: bool,
    ) {
        let cdr = Cdr {
            id: self.cdr_id(),
            call_id: call.call_id.clone(),
            caller: call.caller.clone(),
            callee: call.callee.clone(),
            start_ms: call.start_ms,
            answer_ms: None,
            end_ms: now.unix_ms,
            duration_ms: 0,
            end_cause: end_cause(code, cancelled).to_owned(),
            status: code,
            hangup_by: if cancelled || code == 487 {
                Some(HangupBy::Caller)
            } else {
                Some(HangupBy::Callee)
            },
            node: self.config.node.clone(),
        };
        self.write_cdr(cdr, None);
    }

    /// A BYE is passing: end the dialog it belongs to and write its CDR.
    pub(crate) fn call_hung_up(&mut self, now: Now, bye: &Message) {
        let (Some(call_id), Some(from), Some(to)) = (bye.call_id(), bye.from_tag(), bye.to_tag())
        else {
            return;
        };
        let forward = dialog_key(call_id, from, to);
        let backward = dialog_key(call_id, to, from);
        let found = {
            let replica = self
                .shared
                .replica
                .read()
                .unwrap_or_else(|p| p.into_inner());
            [forward, backward].into_iter().find_map(|k| {
                let d = self
                    .calls
                    .local
                    .get(&k)
                    .cloned()
                    .or_else(|| replica.dialog(&k).cloned())?;
                Some((k, d))
            })
        };
        let Some((key, dialog)) = found else { return };
        // A second BYE (both sides hanging up together) must not write a
        // second CDR.
        if dialog.state == DialogState::Terminated || !self.calls.end(&key) {
            return;
        }
        let hangup_by = if dialog.from_tag == from {
            HangupBy::Caller
        } else {
            HangupBy::Callee
        };
        let answered = dialog.answered_ms.unwrap_or(dialog.started_ms);
        let cdr = Cdr {
            id: self.cdr_id(),
            call_id: dialog.call_id.clone(),
            caller: dialog.caller.clone(),
            callee: dialog.callee.clone(),
            start_ms: dialog.started_ms,
            answer_ms: dialog.answered_ms,
            end_ms: now.unix_ms,
            duration_ms: now.unix_ms.saturating_sub(answered),
            end_cause: "answered".into(),
            status: 200,
            hangup_by: Some(hangup_by),
            node: self.config.node.clone(),
        };
        self.write_cdr(cdr, Some(key));
    }

    fn write_cdr(&mut self, cdr: Cdr, dialog: Option<String>) {
        self.stats.cdrs += 1;
        tracing::info!(call_id = %cdr.call_id, caller = %cdr.caller, callee = %cdr.callee, cause = %cdr.end_cause, status = cdr.status, duration_ms = cdr.duration_ms, "call ended");
        let mut ops = vec![Op::Put {
            key: cdr_key(cdr.end_ms, &cdr.id),
            value: serde_json::to_vec(&cdr).unwrap_or_default(),
            expires_at_ms: None,
        }];
        if let Some(key) = dialog {
            ops.push(Op::Delete { key });
        }
        self.write_records(ops);
    }
}
