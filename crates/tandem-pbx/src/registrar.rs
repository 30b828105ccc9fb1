//! The registrar (RFC 3261 §10.3) with Path (RFC 3327) and outbound
//! (RFC 5626): authenticates, computes the new binding set of the address
//! of record, commits it durably, and only then answers 200 with every
//! current contact.

use crate::core::{Core, Now, Pending};
use crate::routing::flow_record;
use tandem_sip::builder::MessageBuilder;
use tandem_sip::headers::Contact;
use tandem_sip::{HeaderName, Message};
use tandem_store::{binding_key, contact_identity, Binding, Op, Rev};
use tandem_transaction::{Flow, TransactionLayer, TxId};

/// Registrar settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// Expiry when the phone asks for none, seconds.
    pub expires_default_secs: u32,
    /// Shortest expiry accepted (shorter ones get 423), seconds.
    pub expires_min_secs: u32,
    /// Longest expiry granted (longer ones are shortened), seconds.
    pub expires_max_secs: u32,
    /// Most contacts per address of record; the oldest go first.
    pub contacts_per_aor_max: usize,
    /// OPTIONS keep-alive interval for UDP contacts, seconds (0: off).
    pub keepalive_interval_secs: u32,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            expires_default_secs: 3600,
            expires_min_secs: 60,
            expires_max_secs: 7200,
            contacts_per_aor_max: 10,
            keepalive_interval_secs: 0,
        }
    }
}

/// A REGISTER waiting for its commit.
#[derive(Debug)]
pub(crate) struct PendingRegister {
    tx: TxId,
    request: Message,
    aor: String,
    ops: Vec<Op>,
    supports_path: bool,
    outbound: bool,
}

/// Most commits a core waits for at once before refusing new registrations.
const PENDING_COMMITS_MAX: usize = 4096;

/// Option tags the registrar and proxy understand (RFC 3261 §8.2.2.3).
const UNDERSTOOD: [&str; 4] = ["path", "outbound", "gruu", "timer"];

/// FNV-1a, for binding ids that must stay the same across versions.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The identity of a binding: instance and reg-id for outbound phones,
/// otherwise the contact (user, host, port and transport).
fn binding_id(contact: &Contact<'_>, uri_str: &str) -> String {
    match (contact.instance(), contact.reg_id()) {
        (Some(instance), Some(reg_id)) => {
            format!("ob{:016x}", fnv1a(&format!("{instance}/{reg_id}")))
        }
        (Some(instance), None) => format!("in{:016x}", fnv1a(instance)),
        _ => {
            let transport = contact
                .address()
                .and_then(|a| a.uri.params().value("transport"))
                .unwrap_or("udp")
                .to_ascii_lowercase();
            format!(
                "ct{:016x}",
                fnv1a(&format!("{}|{transport}", contact_identity(uri_str)))
            )
        }
    }
}

impl Core {
    pub(crate) fn on_register(
        &mut self,
        now: Now,
        tx: TxId,
        request: Message,
        flow: Flow,
        layer: &mut TransactionLayer,
    ) {
        let local = request
            .request_uri()
            .and_then(Result::ok)
            .is_some_and(|u| self.config.identity.is_local_request_uri(&u));
        if !local {
            self.reply(
                now,
                tx,
                404,
                Some("Not Found (Not Our Domain)"),
                layer,
                |b| b,
            );
            return;
        }
        let unsupported: Vec<String> = request
            .tokens(HeaderName::Require)
            .filter(|t| !UNDERSTOOD.iter().any(|u| u.eq_ignore_ascii_case(t)))
            .map(str::to_owned)
            .collect();
        if !unsupported.is_empty() {
            let list = unsupported.join(", ");
            self.reply(now, tx, 420, None, layer, |b| {
                b.header(HeaderName::Unsupported, &list)
            });
            return;
        }
        // Overload: past a bound of commits in flight, shed load early with
        // 503 rather than let answers arrive after the phone gave up.
        if self.pending_commits() >= PENDING_COMMITS_MAX {
            self.reply(
                now,
                tx,
                503,
                Some("Service Unavailable (Overloaded)"),
                layer,
                |b| b.header(HeaderName::RetryAfter, "2"),
            );
            return;
        }
        let Some(verified) = self.authenticate(now, tx, &request, &flow, false, layer) else {
            return;
        };
        let aor = match request
            .to()
            .and_then(Result::ok)
            .and_then(|to| to.uri.as_sip().and_then(|u| u.user.map(str::to_owned)))
        {
            Some(user) => user,
            None => {
                self.reply(
                    now,
                    tx,
                    400,
                    Some("Bad Request (To Has No User)"),
                    layer,
                    |b| b,
                );
                return;
            }
        };
        if aor != verified.user {
            self.reply(
                now,
                tx,
                403,
                Some("Forbidden (Credentials Of Another User)"),
                layer,
                |b| b,
            );
            return;
        }
        let contacts: Vec<Contact<'_>> = request.contacts().flatten().collect();
        let supports_path = request.has_token(HeaderName::Supported, "path");
        let outbound =
            request.has_token(HeaderName::Supported, "outbound") && request.vias().count() == 1;
        if contacts.is_empty() {
            // A query: answer with the current bindings (RFC 3261 §10.2.3).
            let p = PendingRegister {
                tx,
                request: request.clone(),
                aor,
                ops: vec![],
                supports_path,
                outbound: false,
            };
            self.answer_register(now, &p, layer);
            return;
        }
        let header_expires = request.expires().and_then(Result::ok);
        let call_id = request.call_id().unwrap_or_default().to_owned();
        let cseq = request.cseq().map(|(n, _)| n).unwrap_or(0);
        let cfg = self.config.registrar.clone();
        let existing: Vec<(String, Binding)> = {
            let replica = self
                .shared
                .replica
                .read()
                .unwrap_or_else(|p| p.into_inner());
            replica
                .bindings(&aor, now.unix_ms)
                .into_iter()
                .map(|(k, b)| (k.to_owned(), b.clone()))
                .collect()
        };
        let mut ops = Vec::new();
        if contacts.contains(&Contact::Wildcard) {
            // RFC 3261 §10.3 step 6: `*` only alone and with Expires: 0.
            if contacts.len() > 1 || header_expires != Some(0) {
                self.reply(
                    now,
                    tx,
                    400,
                    Some("Bad Request (Wildcard Contact Needs Expires: 0)"),
                    layer,
                    |b| b,
                );
                return;
            }
            ops.extend(existing.iter().map(|(k, _)| Op::Delete { key: k.clone() }));
        } else {
            let path: Vec<String> = request
                .header_values(HeaderName::Path)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect();
            let user_agent = request.header_str(HeaderName::UserAgent).map(str::to_owned);
            let mut kept: Vec<(String, u64)> = existing
                .iter()
                .map(|(k, b)| (k.clone(), b.registered_at_ms))
                .collect();
            for c in &contacts {
                let Some(addr) = c.address() else { continue };
                let expires = c
                    .expires()
                    .or(header_expires)
                    .unwrap_or(cfg.expires_default_secs);
                if expires != 0 && expires < cfg.expires_min_secs {
                    let min = cfg.expires_min_secs.to_string();
                    self.reply(now, tx, 423, None, layer, |b| {
                        b.header(HeaderName::MinExpires, &min)
                    });
                    return;
                }
                let expires = expires.min(cfg.expires_max_secs);
                let key = binding_key(&aor, &binding_id(c, addr.uri_str));
                let previous = existing.iter().find(|(k, _)| *k == key).map(|(_, b)| b);
                if let Some(prev) = previous {
                    // RFC 3261 §10.3 step 7: an older REGISTER arriving late.
                    if prev.call_id == call_id && prev.cseq >= cseq {
                        self.reply(
                            now,
                            tx,
                            500,
                            Some("Server Internal Error (Out Of Order CSeq)"),
                            layer,
                            |b| b.header(HeaderName::RetryAfter, "1"),
                        );
                        return;
                    }
                }
                if expires == 0 {
                    ops.push(Op::Delete { key: key.clone() });
                    kept.retain(|(k, _)| *k != key);
                    continue;
                }
                let binding = Binding {
                    aor: aor.clone(),
                    contact: addr.uri_str.to_owned(),
                    instance: c.instance().map(str::to_owned),
                    reg_id: c.reg_id(),
                    q_millis: c.q_millis().unwrap_or(1000),
                    expires_at_ms: now.unix_ms + u64::from(expires) * 1000,
                    call_id: call_id.clone(),
                    cseq,
                    path: path.clone(),
                    source: flow_record(&flow, &self.config.node),
                    user_agent: user_agent.clone(),
                    registered_at_ms: previous.map_or(now.unix_ms, |p| p.registered_at_ms),
                };
                let expires_at_ms = Some(binding.expires_at_ms);
                ops.push(Op::Put {
                    key: key.clone(),
                    value: serde_json::to_vec(&binding).unwrap_or_default(),
                    expires_at_ms,
                });
                if !kept.iter().any(|(k, _)| *k == key) {
                    kept.push((key, binding.registered_at_ms));
                }
            }
            // Too many contacts: the oldest registrations make way.
            if kept.len() > cfg.contacts_per_aor_max {
                kept.sort_by_key(|(_, at)| *at);
                let excess = kept.len() - cfg.contacts_per_aor_max;
                for (k, _) in kept.into_iter().take(excess) {
                    ops.retain(|op| !matches!(op, Op::Put { key, .. } if *key == k));
                    ops.push(Op::Delete { key: k });
                }
            }
        }
        let pending = PendingRegister {
            tx,
            request: request.clone(),
            aor,
            ops: ops.clone(),
            supports_path,
            outbound,
        };
        self.commit(ops, Pending::Register(Box::new(pending)));
    }

    pub(crate) fn register_committed(
        &mut self,
        now: Now,
        p: PendingRegister,
        result: Result<Rev, tandem_store::Error>,
        layer: &mut TransactionLayer,
    ) {
        match result {
            Ok(rev) => {
                apply_ops(&self.shared.replica, &p.ops, rev);
                self.answer_register(now, &p, layer);
            }
            Err(e) => {
                tracing::warn!(aor = %p.aor, "registration not stored: {e}");
                self.reply(
                    now,
                    p.tx,
                    503,
                    Some("Service Unavailable (Store)"),
                    layer,
                    |b| b.header(HeaderName::RetryAfter, "5"),
                );
            }
        }
    }

    fn answer_register(&mut self, now: Now, p: &PendingRegister, layer: &mut TransactionLayer) {
        let bindings: Vec<Binding> = {
            let replica = self
                .shared
                .replica
                .read()
                .unwrap_or_else(|x| x.into_inner());
            replica
                .bindings(&p.aor, now.unix_ms)
                .into_iter()
                .map(|(_, b)| b.clone())
                .collect()
        };
        let contacts: Vec<String> = bindings
            .iter()
            .map(|b| {
                let left = b.expires_at_ms.saturating_sub(now.unix_ms).div_ceil(1000);
                let mut v = format!("<{}>;expires={left}", b.contact);
                if let (Some(instance), Some(reg_id)) = (&b.instance, b.reg_id) {
                    v.push_str(&format!(";+sip.instance=\"{instance}\";reg-id={reg_id}"));
                }
                v
            })
            .collect();
        let path: Vec<String> = if p.supports_path {
            p.request
                .header_values(HeaderName::Path)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect()
        } else {
            vec![]
        };
        let outbound = p.outbound && bindings.iter().any(|b| b.reg_id.is_some());
        self.stats.registrations += 1;
        let tag = self.tag();
        let server = self.config.server.clone();
        let bytes = {
            let mut b = MessageBuilder::response(&p.request, 200, None, Some(&tag));
            for c in &contacts {
                b = b.header(HeaderName::Contact, c);
            }
            for v in &path {
                b = b.header(HeaderName::Path, v);
            }
            if outbound {
                b = b.header(HeaderName::Require, "outbound");
            }
            b.header(HeaderName::Supported, crate::capabilities::SUPPORTED)
                .header(HeaderName::Server, &server)
                .build()
        };
        let _ = layer.respond(now.instant, p.tx, 200, bytes);
    }
}

/// Applies a committed batch to the replica at once, so that the next
/// request sees it before the watch brings it back.
pub(crate) fn apply_ops(replica: &tandem_store::SharedReplica, ops: &[Op], rev: Rev) {
    replica
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .apply_ops(ops, rev);
}
