//! Calls as the proxy sees them: an INVITE that is answered becomes a
//! confirmed dialog, stored so that any node can route its BYE and write
//! its CDR; every call attempt ends with exactly one CDR (answered calls
//! when the BYE passes, the others when their final response does).

use crate::core::{Core, Now, Pending};
use std::collections::{HashMap, HashSet, VecDeque};
use tandem_sip::Message;
use tandem_store::{
    cdr_key, dialog_key, ended_key, Cdr, DialogRecord, DialogState, Expect, HangupBy, Op,
};

/// How long the mark of a call's CDR is kept: longer than any
/// retransmission or late BYE of the call.
const ENDED_KEEP_MS: u64 = 24 * 3600 * 1000;

/// How long a dialog record outlives `call_max_secs` in the store: its
/// owner ends the call at `call_max_secs` (see the duties module); the
/// store forgets it only if no node was left to do so.
const DIALOG_GRACE_SECS: u64 = 3600;

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
    pub(crate) fn end(&mut self, key: &str) -> bool {
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
            expires_at_ms: Some(
                now.unix_ms + (self.config.call_max_secs + DIALOG_GRACE_SECS) * 1000,
            ),
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
        self.shared.trunk_calls.end(&call.call_id);
        self.shared.cseq_shifts.end(&call.call_id);
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
        let from_tag = call.from_tag.clone();
        self.write_cdr(cdr, &from_tag, None, Vec::new());
    }

    /// A BYE is passing: end the dialog it belongs to and write its CDR.
    pub(crate) fn call_hung_up(&mut self, now: Now, bye: &Message) {
        if let Some(call_id) = bye.call_id() {
            self.shared.trunk_calls.end(call_id);
        }
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
        let Some((key, dialog)) = found else {
            self.orphan_hangup(now, bye, call_id, from, to);
            return;
        };
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
        let from_tag = dialog.from_tag.clone();
        self.write_cdr(cdr, &from_tag, Some(key), Vec::new());
    }

    /// A BYE for a dialog this node does not know: set up by a node that
    /// died before its dialog record was durable, or whose record is not
    /// here yet. The call still gets its one CDR, unless the store knows
    /// the call's end.
    fn orphan_hangup(&mut self, now: Now, bye: &Message, call_id: &str, from: &str, to: &str) {
        let forward = dialog_key(call_id, from, to);
        if !self.calls.end(&forward) {
            return;
        }
        let user = |uri: Option<String>| uri.unwrap_or_default();
        let cdr = Cdr {
            id: self.cdr_id(),
            call_id: call_id.to_owned(),
            caller: user(crate::calls::uri_user(
                bye.from().and_then(Result::ok).map(|f| f.uri),
            )),
            callee: user(crate::calls::uri_user(
                bye.to().and_then(Result::ok).map(|t| t.uri),
            )),
            start_ms: now.unix_ms,
            answer_ms: Some(now.unix_ms),
            end_ms: now.unix_ms,
            duration_ms: 0,
            end_cause: "answered".into(),
            status: 200,
            hangup_by: None,
            node: self.config.node.clone(),
        };
        // The dialog's own record may land after this BYE (its node's
        // write was waiting for the store when the BYE came here): the CDR
        // batch deletes it rather than requires it absent, or the call
        // would lose its CDR to a conflict with its own dialog.
        let guards = vec![
            Op::Require {
                key: ended_key(call_id, to),
                expect: Expect::Absent,
            },
            Op::Delete { key: forward },
            Op::Delete {
                key: dialog_key(call_id, to, from),
            },
        ];
        self.write_cdr(cdr, from, None, guards);
    }

    /// A 2xx to an INVITE whose transaction died with another node passed
    /// here statelessly: record the dialog so that its BYE writes the CDR.
    pub(crate) fn stray_answer(&mut self, now: Now, response: &Message) {
        let (Some(call_id), Some(from), Some(to)) =
            (response.call_id(), response.from_tag(), response.to_tag())
        else {
            return;
        };
        let key = dialog_key(call_id, from, to);
        let known = self.calls.local.contains_key(&key) || {
            let r = self
                .shared
                .replica
                .read()
                .unwrap_or_else(|p| p.into_inner());
            r.dialog(&key).is_some()
        };
        if known {
            return;
        }
        let dialog = DialogRecord {
            call_id: call_id.to_owned(),
            from_tag: from.to_owned(),
            to_tag: to.to_owned(),
            caller: uri_user(response.from().and_then(Result::ok).map(|f| f.uri))
                .unwrap_or_default(),
            callee: uri_user(response.to().and_then(Result::ok).map(|t| t.uri)).unwrap_or_default(),
            state: DialogState::Confirmed,
            started_ms: now.unix_ms,
            answered_ms: Some(now.unix_ms),
            owner: self.config.node.clone(),
            session_expires_secs: None,
        };
        self.stats.calls_answered += 1;
        let ops = vec![
            Op::Require {
                key: ended_key(call_id, from),
                expect: Expect::Absent,
            },
            Op::Require {
                key: key.clone(),
                expect: Expect::Absent,
            },
            Op::Put {
                key: key.clone(),
                value: serde_json::to_vec(&dialog).unwrap_or_default(),
                expires_at_ms: Some(
                    now.unix_ms + (self.config.call_max_secs + DIALOG_GRACE_SECS) * 1000,
                ),
            },
        ];
        self.calls.local.insert(key, dialog);
        self.write_records(ops);
    }

    /// A final failure to an INVITE whose transaction died with another
    /// node: the call attempt's CDR, unless a fork of it was answered.
    pub(crate) fn stray_failure(&mut self, now: Now, response: &Message, code: u16) {
        let (Some(call_id), Some(from)) = (response.call_id(), response.from_tag()) else {
            return;
        };
        let answered = {
            let prefix = format!("dlg/{call_id};{from};");
            let r = self
                .shared
                .replica
                .read()
                .unwrap_or_else(|p| p.into_inner());
            r.call_has_dialog(call_id, from)
                || self.calls.local.keys().any(|k| k.starts_with(&prefix))
        };
        if answered || !self.calls.end(&format!("attempt/{call_id};{from}")) {
            return;
        }
        let track = CallTrack {
            call_id: call_id.to_owned(),
            from_tag: from.to_owned(),
            caller: uri_user(response.from().and_then(Result::ok).map(|f| f.uri))
                .unwrap_or_default(),
            callee: uri_user(response.to().and_then(Result::ok).map(|t| t.uri)).unwrap_or_default(),
            start_ms: now.unix_ms,
        };
        self.call_ended_unanswered(now, &track, code, false);
    }

    /// Writes the CDR of a call that had a dialog (see [`Core::write_cdr`]).
    pub(crate) fn write_call_cdr(&mut self, cdr: Cdr, from_tag: &str, dialog: Option<String>) {
        self.write_cdr(cdr, from_tag, dialog, Vec::new());
    }

    /// Writes a CDR once per call: the batch requires the call's end mark
    /// absent (and whatever `guards` say) and sets it, so whichever node
    /// gets there first writes the only CDR.
    fn write_cdr(&mut self, cdr: Cdr, from_tag: &str, dialog: Option<String>, guards: Vec<Op>) {
        self.stats.cdrs += 1;
        tracing::info!(call_id = %cdr.call_id, caller = %cdr.caller, callee = %cdr.callee, cause = %cdr.end_cause, status = cdr.status, duration_ms = cdr.duration_ms, "call ended");
        let ended = ended_key(&cdr.call_id, from_tag);
        let mut ops = guards;
        ops.push(Op::Require {
            key: ended.clone(),
            expect: Expect::Absent,
        });
        ops.push(Op::Put {
            key: ended,
            value: Vec::new(),
            expires_at_ms: Some(cdr.end_ms + ENDED_KEEP_MS),
        });
        ops.push(Op::Put {
            key: cdr_key(cdr.end_ms, &cdr.id),
            value: serde_json::to_vec(&cdr).unwrap_or_default(),
            expires_at_ms: None,
        });
        if let Some(key) = dialog {
            ops.push(Op::Delete { key });
        }
        self.write_records(ops);
    }
}

/// The user part of a SIP URI, else the URI as written.
pub(crate) fn uri_user(uri: Option<tandem_sip::Uri<'_>>) -> Option<String> {
    let uri = uri?;
    Some(match uri {
        tandem_sip::Uri::Sip(s) => s.user.map_or_else(|| s.raw.to_owned(), str::to_owned),
        tandem_sip::Uri::Tel(t) => t.raw.to_owned(),
        tandem_sip::Uri::Other { scheme, rest } => format!("{scheme}:{rest}"),
    })
}
