//! Digest towards a trunk that challenges calls: the proxy answers a
//! carrier's 401/407 itself with the trunk's credentials (RFC 3261 §22.2,
//! §22.3; RFC 2617 / RFC 8760), re-sending the INVITE as a new client
//! transaction with CSeq + 1, as §22.2 asks. The caller's side keeps its
//! own numbering: responses going up get the caller's CSeq back, and the
//! caller's in-dialog requests (the ACK of the 2xx, BYE, re-INVITE) are
//! raised by one on their way to the carrier (§12.2.1.1: its remote CSeq
//! must not go backwards; §13.2.2.4: the ACK carries the INVITE's number),
//! their responses lowered again.

use crate::core::{Core, Now};
use crate::digest_client::{authorization, Challenge, Credentials};
use std::collections::HashMap;
use tandem_sip::{HeaderName, Message, ParseOptions};
use tandem_transaction::{Flow, TransactionLayer, TxId};

/// What became of a trunk's challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Challenged {
    /// Not a call out on a trunk: the challenge is aggregated as usual.
    NotTrunk,
    /// Answered: the INVITE went again with credentials.
    Answered,
    /// Cannot be answered (no credentials, a second challenge): the
    /// trunk failed, the next one is tried.
    Refused,
}

/// Calls whose carrier side is numbered one above the caller's: by
/// Call-ID, the caller's From tag. One per node, shared by its shards.
#[derive(Debug, Default)]
pub struct CseqShifts {
    calls: std::sync::Mutex<HashMap<String, String>>,
}

/// Most shifted calls remembered (bounded: entries of calls whose BYE
/// never came through this node are dropped first).
const SHIFTS_MAX: usize = 100_000;

impl CseqShifts {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self, call_id: &str, caller_tag: &str) {
        let mut m = self.map();
        if m.len() >= SHIFTS_MAX {
            m.clear();
        }
        m.insert(call_id.to_owned(), caller_tag.to_owned());
    }

    /// Whether `request` comes from the caller of a shifted call.
    fn sent_by_caller(&self, request: &Message) -> bool {
        match (request.call_id(), request.from_tag()) {
            (Some(c), Some(tag)) => self.map().get(c).is_some_and(|t| t == tag),
            _ => false,
        }
    }

    /// The call ended.
    pub(crate) fn end(&self, call_id: &str) {
        self.map().remove(call_id);
    }
}

/// `msg` with CSeq number `number` (method unchanged), parsed afresh so
/// that every cached field agrees.
pub(crate) fn with_cseq(msg: &Message, number: u32) -> Option<Message> {
    let method = msg.cseq()?.1.as_str().to_owned();
    let mut m = msg.clone();
    m.remove_headers(HeaderName::CSeq);
    m.append_header(HeaderName::CSeq, &format!("{number} {method}"));
    Message::parse(m.to_bytes(), &ParseOptions::default()).ok()
}

impl Core {
    /// Branch `tx` of trunk call `server` was challenged with `resp`.
    pub(crate) fn trunk_challenged(
        &mut self,
        now: Now,
        server: TxId,
        tx: TxId,
        resp: Option<&Message>,
        layer: &mut TransactionLayer,
    ) -> Challenged {
        let (target, sent, trunk, inbound, record_route) = {
            let Some(f) = self.open_failover(server) else {
                return Challenged::NotTrunk;
            };
            if !f.any_5xx {
                return Challenged::NotTrunk;
            }
            let Some((current, target)) = f.current else {
                return Challenged::NotTrunk;
            };
            if current != tx {
                return Challenged::NotTrunk;
            }
            if f.authed.contains(&target) {
                return Challenged::Refused;
            }
            let trunk = f.trunk_of.iter().find(|(t, _)| *t == target).map(|x| x.1);
            let (Some(sent), Some(trunk)) = (f.sent_msg.clone(), trunk) else {
                return Challenged::Refused;
            };
            (target, sent, trunk, f.inbound, f.record_route)
        };
        let spec = &self.config.trunks.trunks[trunk];
        let name = spec.name.clone();
        let (Some(user), Some(password)) = (spec.username.clone(), spec.password.clone()) else {
            tracing::warn!(trunk = %name, "the trunk challenged a call and has no credentials: next trunk");
            return Challenged::Refused;
        };
        let Some(challenge) = resp.and_then(Challenge::from_response) else {
            return Challenged::Refused;
        };
        let Some((cseq, method)) = sent.cseq().map(|(n, m)| (n, m.as_str().to_owned())) else {
            return Challenged::Refused;
        };
        let uri = sent.request_uri_str().unwrap_or_default().to_owned();
        let cnonce = format!("{:016x}", rand::Rng::random::<u64>(&mut self.rng));
        let creds = Credentials {
            username: &user,
            password: &password,
        };
        let value = authorization(&challenge, &creds, &method, &uri, 1, &cnonce);
        let mut authed = sent.clone();
        authed.append_header(challenge.header_name(), &value);
        let Some(authed) = with_cseq(&authed, cseq + 1) else {
            return Challenged::Refused;
        };
        if let Some(f) = self.open_failover(server) {
            f.authed.push(target);
            f.sent_msg = Some(authed.clone());
        }
        let Some(local) = self.our_addr(target.transport, None) else {
            return Challenged::Refused;
        };
        let flow = Flow {
            transport: target.transport,
            remote: target.addr,
            local,
            connection: None,
        };
        // A branch of its own: the challenged one still absorbs its ACK.
        let salt = format!("{}|auth", target.addr);
        let Some(new_tx) = self.send_branch_salted(
            now,
            authed.clone(),
            &inbound,
            flow,
            record_route,
            Some(&salt),
            layer,
        ) else {
            return Challenged::Refused;
        };
        self.branch_superseded(server, tx);
        let deadline = now.instant + self.config.outbound.target_timeout;
        self.branch_started(server, new_tx, target, deadline);
        self.proxy.cseq_restore.insert(new_tx, cseq);
        if let (Some(call_id), Some(tag)) = (authed.call_id(), authed.from_tag()) {
            self.shared.cseq_shifts.add(call_id, tag);
        }
        tracing::info!(trunk = %name, "the trunk challenged the call: answered with its credentials");
        Challenged::Answered
    }

    /// An in-dialog request on its way out: from the caller of a call
    /// whose carrier side is numbered one up, it is raised too; returns
    /// the caller's number to restore in its responses.
    pub(crate) fn shift_in_dialog(&self, msg: Message) -> (Message, Option<u32>) {
        if !self.shared.cseq_shifts.sent_by_caller(&msg) {
            return (msg, None);
        }
        let Some(n) = msg.cseq().map(|c| c.0) else {
            return (msg, None);
        };
        match with_cseq(&msg, n + 1) {
            Some(shifted) => (shifted, Some(n)),
            None => (msg, None),
        }
    }

    /// Remembers that the responses of `tx` go up with CSeq `n`.
    pub(crate) fn restore_cseq(&mut self, tx: TxId, n: u32) {
        self.proxy.cseq_restore.insert(tx, n);
    }
}
