//! CANCEL and ACK for INVITE transactions another node started (RFC 3261
//! §16.10, §16.11): after a failover the caller's CANCEL, or its ACK for a
//! failure, reaches the new holder of the floating IP, which has no
//! transaction for it. Because branches are derived from the caller's
//! branch and the target (see `Core::via_for`), this node can build the
//! very CANCEL or ACK the original node would have sent on each branch,
//! and the callee matches it to its transaction. An ACK for a transaction
//! of a node that is still alive (a drained leader) is relayed to it.

use crate::core::{Core, Now};
use crate::routing::flow_of_record;
use tandem_sip::{HeaderName, Message, Method};
use tandem_store::Binding;
use tandem_transaction::{Flow, TransactionLayer, TransportKind};

impl Core {
    /// The bindings the request's Request-URI (one of our users) forks to.
    fn fork_bindings(&self, msg: &Message, now_ms: u64) -> Vec<Binding> {
        let Some(Ok(uri)) = msg.request_uri() else {
            return Vec::new();
        };
        let Some(sip) = uri.as_sip() else {
            return Vec::new();
        };
        let Some(user) = sip.user.filter(|_| self.config.identity.is_local_uri(sip)) else {
            return Vec::new();
        };
        let replica = self
            .shared
            .replica
            .read()
            .unwrap_or_else(|p| p.into_inner());
        replica
            .bindings(user, now_ms)
            .into_iter()
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// The flow a binding is reached on (its Path's first hop, else where
    /// it registered from).
    pub(crate) fn binding_flow(&self, b: &Binding, now_ms: u64) -> Option<Flow> {
        match b.path.first() {
            Some(p) => crate::proxy::parse_route_flow(self, p, now_ms),
            None => flow_of_record(&b.source),
        }
    }

    /// A CANCEL that matches no transaction here: build, for every other
    /// node (live or gone) and every target, the CANCEL that node's branch
    /// needs. Returns whether any was sent (then the caller gets 200).
    pub(crate) fn cancel_elsewhere(
        &mut self,
        now: Now,
        cancel: &Message,
        layer: &mut TransactionLayer,
    ) -> bool {
        let bindings = self.fork_bindings(cancel, now.unix_ms);
        let nodes = self.other_nodes();
        if bindings.is_empty() || nodes.is_empty() || cancel.branch().is_none() {
            return false;
        }
        let mut sent = false;
        for b in &bindings {
            let Some(flow) = self.binding_flow(b, now.unix_ms) else {
                continue;
            };
            for &node in &nodes {
                if let Some(bytes) = self.hop_request(cancel, b, node, &flow) {
                    layer.send_stateless(self.outbound(flow), bytes);
                    sent = true;
                }
            }
        }
        sent
    }

    /// An ACK that matches no transaction here and carries no Route of
    /// ours: the ACK of a failure response to an INVITE another node
    /// forwarded. A live node gets it as it is (its server transaction
    /// stops retransmitting); for a node that is gone, build the hop-by-hop
    /// ACK each of its branches needs.
    pub(crate) fn ack_elsewhere(&mut self, now: Now, ack: &Message, layer: &mut TransactionLayer) {
        if ack.branch().is_none() {
            return;
        }
        let local = self.our_addr(TransportKind::Udp, None);
        let mut gone = Vec::new();
        for node in self.other_nodes() {
            match self.shared.cluster.live_member(node) {
                Some(m) => {
                    if let (Some(remote), Some(local)) = (m.sip_udp, local) {
                        let flow = Flow {
                            transport: TransportKind::Udp,
                            remote,
                            local,
                            connection: None,
                        };
                        layer.send_stateless(flow, ack.to_bytes());
                    }
                }
                None => gone.push(node),
            }
        }
        if gone.is_empty() {
            return;
        }
        for b in &self.fork_bindings(ack, now.unix_ms) {
            let Some(flow) = self.binding_flow(b, now.unix_ms) else {
                continue;
            };
            for &node in &gone {
                if let Some(bytes) = self.hop_request(ack, b, node, &flow) {
                    layer.send_stateless(self.outbound(flow), bytes);
                }
            }
        }
    }

    /// Hashes of the other nodes whose transactions may be out there: the
    /// live ones and those that left.
    fn other_nodes(&self) -> Vec<u32> {
        let cluster = &self.shared.cluster;
        let mut nodes: Vec<u32> = cluster
            .live_names()
            .iter()
            .map(|n| crate::node_hash(n))
            .chain(cluster.departed())
            .filter(|h| *h != self.node_hash)
            .collect();
        nodes.sort_unstable();
        nodes.dedup();
        nodes
    }

    /// The CANCEL or ACK node `node` sent (or would have) on its branch to
    /// binding `b`: the Request-URI and Route of that branch, and a single
    /// Via with that branch (RFC 3261 §9.1, §17.1.1.3).
    fn hop_request(
        &mut self,
        request: &Message,
        b: &Binding,
        node: u32,
        flow: &Flow,
    ) -> Option<bytes::Bytes> {
        let method = request.method()?;
        debug_assert!(matches!(method, Method::Cancel | Method::Ack));
        let mut out = request.clone();
        out.set_request_uri(&b.contact).ok()?;
        out.remove_headers(HeaderName::Route);
        for p in b.path.iter().rev() {
            out.prepend_header(HeaderName::Route, p);
        }
        out.remove_headers(HeaderName::Via);
        let flow = self.outbound(*flow);
        let addr = self.our_addr(flow.transport, Some(&flow))?;
        let branch = self.branch_as(node, request.branch(), &b.contact);
        out.push_via(&format!(
            "SIP/2.0/{} {};branch={branch};rport",
            flow.transport.via_token(),
            Core::hostport(addr)
        ))
        .ok()?;
        Some(out.to_bytes())
    }
}
