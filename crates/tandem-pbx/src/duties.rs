//! Per-call duties, owned by exactly one live node: a confirmed call that
//! outlives `call_max_secs` without a BYE (a phone that lost power, a
//! network that died) is ended by its owner, which writes its CDR. The
//! owner of a call is the rendezvous winner of its dialog key among the
//! live members (`tandem_cluster::owner_of`), so when a node dies its
//! share moves to the survivors and nobody else's; the CDR's end mark
//! makes the write exactly-once even while two nodes disagree about who
//! is alive.

use crate::core::{Core, Now};
use tandem_store::{Cdr, DialogRecord, HangupBy};

impl Core {
    /// Runs the duties this node owns among `members` (this node's name
    /// included; a single node passes just its own). Returns how many
    /// calls it ended.
    pub fn run_duties(&mut self, now: Now, members: &[String]) -> usize {
        let me = self.config.node.clone();
        let max_ms = self.config.call_max_secs * 1000;
        let overdue: Vec<(String, DialogRecord)> = {
            let replica = self
                .shared
                .replica
                .read()
                .unwrap_or_else(|p| p.into_inner());
            replica
                .dialog_entries()
                .filter(|(_, _, d)| {
                    d.answered_ms.unwrap_or(d.started_ms).saturating_add(max_ms) <= now.unix_ms
                })
                .filter(|(key, _, _)| {
                    let names = members.iter().map(String::as_str);
                    tandem_cluster::owner_of(key, names).is_none_or(|o| o == me)
                })
                .map(|(key, _, d)| (key.to_owned(), d.clone()))
                .collect()
        };
        let mut ended = 0;
        for (key, d) in overdue {
            if !self.calls.end(&key) {
                continue;
            }
            ended += 1;
            let answered = d.answered_ms.unwrap_or(d.started_ms);
            tracing::warn!(call_id = %d.call_id, caller = %d.caller, callee = %d.callee,
                "call ended by tandem: no BYE within call_max_secs ({}s)", self.config.call_max_secs);
            let cdr = Cdr {
                id: self.tag(),
                call_id: d.call_id.clone(),
                caller: d.caller.clone(),
                callee: d.callee.clone(),
                start_ms: d.started_ms,
                answer_ms: d.answered_ms,
                end_ms: now.unix_ms,
                duration_ms: now.unix_ms.saturating_sub(answered),
                end_cause: "timeout".into(),
                status: 200,
                hangup_by: Some(HangupBy::System),
                node: me.clone(),
            };
            self.write_call_cdr(cdr, &d.from_tag, Some(key));
        }
        ended
    }
}
