//! Duties owned by exactly one live node: a confirmed call that outlives
//! `call_max_secs` without a BYE (a phone that lost power, a network that
//! died) is ended by its owner, which writes its CDR; and each UDP contact
//! gets its NAT keep-alive OPTIONS from one node only. The owner of a call
//! or a binding is the rendezvous winner of its key among the live members
//! (`tandem_cluster::owner_of`), so when a node dies its share moves to the
//! survivors and nobody else's; the CDR's end mark makes the write
//! exactly-once even while two nodes disagree about who is alive.

use crate::core::{Core, Now};
use tandem_store::{Cdr, DialogRecord, HangupBy};
use tandem_transaction::{TransactionLayer, TransportKind};

impl Core {
    /// Runs the duties this node owns among `members` (this node's name
    /// included; a single node passes just its own). Returns how many
    /// calls it ended.
    pub fn run_duties(
        &mut self,
        now: Now,
        members: &[String],
        layer: &mut TransactionLayer,
    ) -> usize {
        self.keepalives(now, members, layer);
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

impl Core {
    /// Sends the OPTIONS keep-alives that are due to the UDP contacts this
    /// node owns; a contact owned elsewhere is forgotten here.
    fn keepalives(&mut self, now: Now, members: &[String], layer: &mut TransactionLayer) {
        let interval_ms = u64::from(self.config.registrar.keepalive_interval_secs) * 1000;
        if interval_ms == 0 {
            return;
        }
        let me = self.config.node.clone();
        let due: Vec<tandem_store::Binding> = {
            let replica = self
                .shared
                .replica
                .read()
                .unwrap_or_else(|p| p.into_inner());
            replica
                .all_bindings(now.unix_ms)
                .into_iter()
                .filter(|b| b.source.transport.eq_ignore_ascii_case("udp"))
                .filter(|b| {
                    let key = tandem_store::binding_key(&b.aor, &b.contact);
                    let names = members.iter().map(String::as_str);
                    tandem_cluster::owner_of(&key, names).is_none_or(|o| o == me)
                })
                .cloned()
                .collect()
        };
        let owned: std::collections::HashSet<String> =
            due.iter().map(|b| b.contact.clone()).collect();
        self.keepalive_sent.retain(|c, _| owned.contains(c));
        for b in due {
            let last = self.keepalive_sent.get(&b.contact).copied();
            if last.is_some_and(|t| now.unix_ms < t + interval_ms) {
                continue;
            }
            // Spread the first round over one interval.
            if last.is_none() {
                let offset = tandem_cluster::rendezvous_score(&me, &b.contact) % interval_ms;
                let first = (now.unix_ms + offset).saturating_sub(interval_ms);
                self.keepalive_sent.insert(b.contact.clone(), first);
                continue;
            }
            self.keepalive_sent.insert(b.contact.clone(), now.unix_ms);
            let Some(flow) = self.binding_flow(&b, now.unix_ms) else {
                continue;
            };
            let flow = self.outbound(flow);
            if flow.transport != TransportKind::Udp {
                continue;
            }
            let Some(local) = self.our_addr(TransportKind::Udp, Some(&flow)) else {
                continue;
            };
            let host = Core::hostport(local);
            let (branch, tag, call): (u64, u64, u64) = (
                rand::Rng::random(&mut self.rng),
                rand::Rng::random(&mut self.rng),
                rand::Rng::random(&mut self.rng),
            );
            let request = format!(
                "OPTIONS {contact} SIP/2.0\r\nVia: SIP/2.0/UDP {host};branch=z9hG4bK-td{node:08x}{branch:016x};rport\r\nMax-Forwards: 70\r\nFrom: <sip:keepalive@{host}>;tag={tag:x}\r\nTo: <{contact}>\r\nCall-ID: ka-{call:x}@{host}\r\nCSeq: 1 OPTIONS\r\nUser-Agent: {server}\r\nContent-Length: 0\r\n\r\n",
                contact = b.contact,
                node = self.node_hash,
                server = self.config.server,
            );
            self.stats.keepalives += 1;
            layer.send_stateless(flow, bytes::Bytes::from(request));
        }
    }
}
