//! Ring groups: one number that rings several extensions, all at once
//! (parallel forking, RFC 3261 §16.6) or one after the other, each member
//! for `member_timeout` before its branches are cancelled (§9.1) and the
//! next rings; when nobody answered, the call goes on to a fallback
//! extension before the caller gets a final answer (§16.7 aggregation
//! waits until then). All of it lives in the proxy context of the call, so
//! a CANCEL from the caller or Timer C ends every stage.

use crate::calls::CallTrack;
use crate::core::{Core, Now};
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tandem_sip::{HeaderName, Message, Method};
use tandem_transaction::{Flow, TransactionLayer, TxId};

/// One ring group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingGroup {
    /// Its number.
    pub number: String,
    /// Members one after the other (else all at once).
    pub sequential: bool,
    /// Extension numbers, in order.
    pub members: Vec<String>,
    /// How long a member (sequential) or the group (all) rings.
    pub member_timeout: Duration,
    /// The extension that rings when nobody answered.
    pub fallback: Option<String>,
}

/// What is left of a ring group's call.
#[derive(Debug)]
pub(crate) struct RingState {
    group: String,
    /// Members to ring, one stage after the other.
    stages: VecDeque<Vec<String>>,
    fallback: Option<String>,
    timeout: Duration,
    /// The INVITE as prepared for the members (Max-Forwards decremented).
    msg: Message,
    inbound: Flow,
    /// When the ringing stage ends.
    pub(crate) deadline: Option<Instant>,
}

impl Core {
    /// The ring group with number `number`.
    pub(crate) fn ring_group(&self, number: &str) -> Option<&RingGroup> {
        self.config
            .trunks
            .ring_groups
            .iter()
            .find(|g| g.number == number)
    }

    /// Rings group `number` for the INVITE of server transaction `tx`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn route_to_ring_group(
        &mut self,
        now: Now,
        tx: TxId,
        mut msg: Message,
        flow: Flow,
        number: &str,
        track: Option<CallTrack>,
        layer: &mut TransactionLayer,
    ) {
        let Some(group) = self.ring_group(number).cloned() else {
            return;
        };
        msg.decrement_max_forwards();
        let stages: VecDeque<Vec<String>> = if group.sequential {
            group.members.iter().map(|m| vec![m.clone()]).collect()
        } else {
            VecDeque::from([group.members.clone()])
        };
        tracing::info!(group = %group.number, strategy = if group.sequential { "sequential" } else { "all" }, "ringing a ring group");
        self.add_context(now, tx, Method::Invite, Vec::new(), track);
        self.set_ring(
            tx,
            RingState {
                group: group.number.clone(),
                stages,
                fallback: group.fallback.clone(),
                timeout: group.member_timeout,
                msg,
                inbound: flow,
                deadline: None,
            },
        );
        if !self.ring_next_stage(now, tx, layer) {
            // Nobody of the group is reachable, and no fallback is.
            self.all_targets_failed(now, tx, layer);
        }
    }

    /// Rings the next members that can be reached (then the fallback);
    /// false when nobody is left.
    pub(crate) fn ring_next_stage(
        &mut self,
        now: Now,
        server: TxId,
        layer: &mut TransactionLayer,
    ) -> bool {
        if !self.context_open(server) {
            return false;
        }
        loop {
            let Some(ring) = self.ring_state(server) else {
                return false;
            };
            let (members, timeout) = match ring.stages.pop_front() {
                Some(m) => (m, Some(ring.timeout)),
                None => match ring.fallback.take() {
                    // The fallback rings until the caller's Timer C.
                    Some(f) => (vec![f], None),
                    None => {
                        self.nobody_answered(server);
                        return false;
                    }
                },
            };
            let (msg, inbound, group) = (ring.msg.clone(), ring.inbound, ring.group.clone());
            // The fallback may be a member rung before: its branch needs
            // a name of its own.
            let salt = timeout.is_none().then_some("ring-fallback");
            let txs = self.fork_to_members(now, &msg, &inbound, &members, salt, layer);
            if txs.is_empty() {
                tracing::debug!(%group, ?members, "ring group members not reachable: next");
                continue;
            }
            tracing::info!(%group, ?members, "ring group: ringing");
            let until = timeout.map(|t| now.instant + t);
            self.add_ring_branches(server, &txs, until);
            return true;
        }
    }

    /// A stage rang long enough: cancel it; its branches' ends ring the
    /// next stage.
    pub(crate) fn ring_stage_timeout(
        &mut self,
        now: Now,
        server: TxId,
        layer: &mut TransactionLayer,
    ) {
        if let Some(ring) = self.ring_state(server) {
            ring.deadline = None;
        }
        if self.context_open(server) {
            self.cancel_pending(now, server, layer);
        }
    }

    /// One branch per registered contact of each member.
    fn fork_to_members(
        &mut self,
        now: Now,
        msg: &Message,
        inbound: &Flow,
        members: &[String],
        salt: Option<&str>,
        layer: &mut TransactionLayer,
    ) -> Vec<TxId> {
        let bindings: Vec<tandem_store::Binding> = {
            let replica = self
                .shared
                .replica
                .read()
                .unwrap_or_else(|p| p.into_inner());
            members
                .iter()
                .flat_map(|m| {
                    replica
                        .bindings(m, now.unix_ms)
                        .into_iter()
                        .map(|(_, b)| b.clone())
                })
                .collect()
        };
        let mut txs = Vec::new();
        for b in &bindings {
            let mut out = msg.clone();
            if out.set_request_uri(&b.contact).is_err() {
                continue;
            }
            // RFC 3327: the Path of the registration becomes the route set.
            for p in b.path.iter().rev() {
                out.prepend_header(HeaderName::Route, p);
            }
            let Some(outbound) = self.binding_flow(b, now.unix_ms) else {
                continue;
            };
            if let Some(tx) =
                self.send_branch_salted(now, out, inbound, outbound, true, salt, layer)
            {
                txs.push(tx);
            }
        }
        txs
    }
}
