//! Calls to the telephone network: a dialled number that is no extension
//! and matches an outbound rule leaves through the rule's trunks, in order,
//! with failover to the next trunk on 5xx, 408 or silence (the RFC 3263
//! §4.3 failover of `outbound.rs`, its targets the trunks' targets). The
//! rule rewrites the number (strip, prepend, E.164 per ITU-T E.164 with the
//! tenant's country code) or refuses it (blocked destinations, 403). The
//! caller is presented per trunk policy: a fixed number, the extension's
//! outbound caller ID, or its number; P-Asserted-Identity only towards
//! trusted trunks (RFC 3325 §5), and an anonymous From towards untrusted
//! ones when the caller asked for `Privacy: id` (RFC 3323 §4.1.1.3).

use crate::calls::CallTrack;
use crate::core::{Core, Now};
use crate::outbound::{ResolveQuery, ResolvedTarget};
use std::collections::{HashMap, VecDeque};
use tandem_sip::{HeaderName, Message, Method};
use tandem_transaction::{Flow, TransactionLayer, TxId};

/// One outbound rule, compiled.
#[derive(Debug, Clone)]
pub struct OutboundRule {
    /// For logs.
    pub name: String,
    /// Matched against the dialled user part.
    pub pattern: regex::Regex,
    /// Callers the rule is for (empty: every extension).
    pub from_extensions: Vec<String>,
    /// Digits removed from the front.
    pub strip: usize,
    /// Digits put in front after stripping.
    pub prepend: String,
    /// The tenant's country code, for E.164.
    pub country_code: Option<String>,
    /// The national prefix replaced by `+<country_code>`.
    pub national_prefix: Option<String>,
    /// Indices of the trunks to try, in order.
    pub trunks: Vec<usize>,
    /// Numbers refused with 403.
    pub blocked: Vec<regex::Regex>,
}

/// What the rules say about a dialled number.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision<'a> {
    /// No rule matches: not a call to the network.
    NoRule,
    /// The rule refuses it.
    Blocked(&'a str),
    /// Send `number` out on `trunks`, in order.
    Route {
        rule: &'a str,
        number: String,
        trunks: &'a [usize],
    },
}

impl OutboundRule {
    fn applies(&self, caller: &str, dialled: &str) -> bool {
        (self.from_extensions.is_empty() || self.from_extensions.iter().any(|e| e == caller))
            && self.pattern.is_match(dialled)
    }

    /// The number as sent: stripped, prefixed, then in E.164 form when
    /// the rule knows the country.
    pub(crate) fn rewrite(&self, dialled: &str) -> String {
        let cut = dialled
            .char_indices()
            .nth(self.strip)
            .map_or(dialled.len(), |(i, _)| i);
        let number = format!("{}{}", self.prepend, &dialled[cut..]);
        match (&self.country_code, &self.national_prefix) {
            (Some(cc), Some(np)) if !number.starts_with('+') => {
                match number.strip_prefix(np.as_str()) {
                    Some(rest) => format!("+{cc}{rest}"),
                    None => number,
                }
            }
            _ => number,
        }
    }
}

/// The first rule for `caller` dialling `dialled` decides.
pub(crate) fn decide<'a>(rules: &'a [OutboundRule], caller: &str, dialled: &str) -> Decision<'a> {
    let Some(rule) = rules.iter().find(|r| r.applies(caller, dialled)) else {
        return Decision::NoRule;
    };
    if rule.blocked.iter().any(|b| b.is_match(dialled)) {
        return Decision::Blocked(&rule.name);
    }
    Decision::Route {
        rule: &rule.name,
        number: rule.rewrite(dialled),
        trunks: &rule.trunks,
    }
}

/// Calls going out on trunks, by Call-ID, with the trunk they count
/// against (`calls_max`); shared by a node's shards.
#[derive(Debug, Default)]
pub struct TrunkCalls {
    calls: std::sync::Mutex<HashMap<String, usize>>,
}

impl TrunkCalls {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Calls on trunk `trunk` now.
    pub fn count(&self, trunk: usize) -> usize {
        self.map().values().filter(|t| **t == trunk).count()
    }

    fn add(&self, call_id: &str, trunk: usize) {
        self.map().insert(call_id.to_owned(), trunk);
    }

    /// The call ended (or never started).
    pub(crate) fn end(&self, call_id: &str) {
        self.map().remove(call_id);
    }
}

/// A trunk call waiting for its trunks' hosts to resolve.
#[derive(Debug)]
pub(crate) struct PendingTrunkCall {
    server: TxId,
    inbound: Flow,
    /// Trunks still to resolve, each with the request it gets.
    to_resolve: VecDeque<(usize, Message)>,
    /// Targets found so far, in trunk order, with their requests and trunk.
    targets: Vec<(ResolvedTarget, Message, usize)>,
    call: Option<CallTrack>,
    method: Method,
}

/// Trunk calls waiting for DNS, by resolve token.
#[derive(Debug, Default)]
pub(crate) struct TrunkCallState {
    resolving: HashMap<u64, PendingTrunkCall>,
}

impl Core {
    /// Routes an initial request from extension `caller` for `dialled`
    /// (no extension) by the outbound rules; false when no rule applies.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn route_by_outbound_rules(
        &mut self,
        now: Now,
        tx: TxId,
        request: &Message,
        msg: &Message,
        flow: Flow,
        caller: &str,
        dialled: &str,
        layer: &mut TransactionLayer,
    ) -> bool {
        let decision = match decide(&self.config.trunks.outbound_rules, caller, dialled) {
            Decision::NoRule => return false,
            Decision::Blocked(rule) => Err(rule.to_owned()),
            Decision::Route {
                rule,
                number,
                trunks,
            } => Ok((rule.to_owned(), number, trunks.to_vec())),
        };
        let (rule, number, trunks) = match decision {
            Ok(route) => route,
            Err(rule) => {
                tracing::warn!(%caller, %dialled, %rule, "call to a blocked destination refused");
                self.reply(
                    now,
                    tx,
                    403,
                    Some("Forbidden (Blocked Destination)"),
                    layer,
                    |b| b,
                );
                return true;
            }
        };
        self.route_to_trunks(
            now, tx, request, msg, flow, caller, &number, &rule, trunks, layer,
        );
        true
    }

    /// Sends the request of server transaction `tx` for `number` out on
    /// `trunks` in order (an outbound rule's, or an inbound rule's trunk).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn route_to_trunks(
        &mut self,
        now: Now,
        tx: TxId,
        request: &Message,
        msg: &Message,
        flow: Flow,
        caller: &str,
        number: &str,
        rule: &str,
        trunks: Vec<usize>,
        layer: &mut TransactionLayer,
    ) {
        let number = number.to_owned();
        let method = request.method().cloned().unwrap_or(Method::Options);
        let track = (method == Method::Invite)
            .then(|| CallTrack::new(request, caller.to_owned(), number.clone(), now));
        // Trunks that are full are skipped; the call counts against the
        // first one with room.
        let open: Vec<usize> = trunks
            .into_iter()
            .filter(|&t| {
                let max = self.config.trunks.trunks[t].calls_max;
                max.is_none_or(|m| self.shared.trunk_calls.count(t) < m as usize)
            })
            .collect();
        let Some(&first) = open.first() else {
            tracing::warn!(%caller, %number, %rule, "every trunk of the rule is at calls_max");
            self.reply(
                now,
                tx,
                503,
                Some("Service Unavailable (Trunks Busy)"),
                layer,
                |b| b.header(HeaderName::RetryAfter, "10"),
            );
            if let Some(t) = &track {
                self.call_ended_unanswered(now, t, 503, false);
            }
            return;
        };
        if method == Method::Invite {
            if let Some(call_id) = request.call_id() {
                self.shared.trunk_calls.add(call_id, first);
            }
        }
        let mut base = msg.clone();
        base.decrement_max_forwards();
        let to_resolve: VecDeque<(usize, Message)> = open
            .iter()
            .filter_map(|&t| Some((t, self.trunk_request(&base, t, caller, &number)?)))
            .collect();
        tracing::info!(%caller, %number, %rule, trunks = ?open.iter().map(|&t| &self.config.trunks.trunks[t].name).collect::<Vec<_>>(), "call out on trunks");
        let pending = PendingTrunkCall {
            server: tx,
            inbound: flow,
            to_resolve,
            targets: Vec::new(),
            call: track,
            method,
        };
        self.trunk_call_continue(now, pending, layer);
    }

    /// The request for trunk `t`: its Request-URI, the caller as the
    /// trunk's policy presents them.
    fn trunk_request(
        &self,
        base: &Message,
        t: usize,
        caller: &str,
        number: &str,
    ) -> Option<Message> {
        let spec = &self.config.trunks.trunks[t];
        let mut m = base.clone();
        let transport = match spec.transport {
            Some(tk) if tk != tandem_transaction::TransportKind::Udp => {
                format!(";transport={}", tk.name())
            }
            _ => String::new(),
        };
        m.set_request_uri(&format!("sip:{number}@{}{transport}", spec.hostport()))
            .ok()?;
        let ext_cli = {
            let replica = self
                .shared
                .replica
                .read()
                .unwrap_or_else(|p| p.into_inner());
            replica.extension(caller).and_then(|e| e.caller_id.clone())
        };
        let cli = spec
            .caller_id
            .clone()
            .or(ext_cli)
            .unwrap_or_else(|| caller.to_owned());
        let private = base
            .header_str(HeaderName::Privacy)
            .is_some_and(|p| p.split(';').any(|v| v.trim().eq_ignore_ascii_case("id")));
        let tag = base.from_tag().unwrap_or_default().to_owned();
        // The carrier's own domain: what carriers expect in From and PAI.
        let our_host = spec.hostport();
        // The network gets what the policy allows, never what the phone
        // put in P-Asserted-Identity itself (RFC 3325 §5).
        m.remove_headers(HeaderName::PAssertedIdentity);
        m.remove_headers(HeaderName::PPreferredIdentity);
        m.remove_headers(HeaderName::From);
        if spec.trusted {
            m.append_header(
                HeaderName::PAssertedIdentity,
                &format!("<sip:{cli}@{our_host}>"),
            );
        }
        let from = if private && !spec.trusted {
            format!("\"Anonymous\" <sip:anonymous@anonymous.invalid>;tag={tag}")
        } else {
            format!("<sip:{cli}@{our_host}>;tag={tag}")
        };
        m.prepend_header(HeaderName::From, &from);
        Some(m)
    }

    /// Resolves the next trunk, or starts the failover when all are known.
    fn trunk_call_continue(
        &mut self,
        now: Now,
        mut p: PendingTrunkCall,
        layer: &mut TransactionLayer,
    ) {
        while let Some((t, msg)) = p.to_resolve.pop_front() {
            match self.config.trunks.trunks[t].target() {
                Ok(target) => p.targets.push((target, msg, t)),
                Err(query) => {
                    let query: ResolveQuery = query;
                    let token = self.next_resolve_token();
                    p.to_resolve.push_front((t, msg));
                    self.trunk_calls.resolving.insert(token, p);
                    self.push_effect(crate::Effect::Resolve { token, query });
                    return;
                }
            }
        }
        if p.targets.is_empty() {
            self.reply(
                now,
                p.server,
                404,
                Some("Not Found (Unresolvable Trunk)"),
                layer,
                |b| b,
            );
            if let Some(call) = &p.call {
                self.call_ended_unanswered(now, call, 404, false);
            }
            return;
        }
        p.targets
            .truncate(self.config.outbound.targets_max.max(1) * 2);
        self.start_trunk_failover(now, p.server, p.inbound, p.method, p.call, p.targets, layer);
    }

    /// A resolution for a trunk call: false if the token is not ours.
    pub(crate) fn trunk_call_resolved(
        &mut self,
        now: Now,
        token: u64,
        result: &Result<Vec<ResolvedTarget>, String>,
        layer: &mut TransactionLayer,
    ) -> bool {
        let Some(mut p) = self.trunk_calls.resolving.remove(&token) else {
            return false;
        };
        if let Some((t, msg)) = p.to_resolve.pop_front() {
            match result {
                Ok(targets) => {
                    // This trunk's good targets first, its set-aside ones last.
                    let q = &self.shared.quarantine;
                    let (mut good, bad): (Vec<_>, Vec<_>) = targets
                        .iter()
                        .copied()
                        .partition(|x| !q.holds(x, now.unix_ms));
                    good.extend(bad);
                    good.truncate(self.config.outbound.targets_max.max(1));
                    p.targets
                        .extend(good.into_iter().map(|x| (x, msg.clone(), t)));
                }
                Err(why) => {
                    let name = &self.config.trunks.trunks[t].name;
                    tracing::warn!(trunk = %name, reason = %why, "trunk host does not resolve: next trunk");
                }
            }
        }
        self.trunk_call_continue(now, p, layer);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pattern: &str) -> OutboundRule {
        OutboundRule {
            name: "r".into(),
            pattern: regex::Regex::new(pattern).unwrap(),
            from_extensions: Vec::new(),
            strip: 0,
            prepend: String::new(),
            country_code: None,
            national_prefix: None,
            trunks: vec![0, 1],
            blocked: Vec::new(),
        }
    }

    #[test]
    fn e164_from_a_national_number() {
        let r = OutboundRule {
            country_code: Some("49".into()),
            national_prefix: Some("0".into()),
            ..rule("^0[1-9][0-9]+$")
        };
        assert_eq!(r.rewrite("030123456"), "+4930123456");
        assert_eq!(r.rewrite("+4930123456"), "+4930123456");
        // Strip the outside-line digit first, then normalise.
        let r = OutboundRule { strip: 1, ..r };
        assert_eq!(r.rewrite("9030123456"), "+4930123456");
        let p = OutboundRule {
            strip: 2,
            prepend: "+".into(),
            ..rule("^00")
        };
        assert_eq!(p.rewrite("0044207"), "+44207");
        assert_eq!(p.rewrite("0"), "+", "strip past the end leaves nothing");
    }

    #[test]
    fn first_matching_rule_decides_blocked_and_callers() {
        let premium = OutboundRule {
            name: "national".into(),
            blocked: vec![regex::Regex::new("^0900").unwrap()],
            ..rule("^0[1-9]")
        };
        let boss_only = OutboundRule {
            name: "international".into(),
            from_extensions: vec!["1000".into()],
            trunks: vec![1],
            ..rule("^00")
        };
        let rules = vec![premium, boss_only];
        assert_eq!(
            decide(&rules, "1001", "030123"),
            Decision::Route {
                rule: "national",
                number: "030123".into(),
                trunks: &[0, 1]
            }
        );
        assert_eq!(
            decide(&rules, "1001", "0900123"),
            Decision::Blocked("national")
        );
        assert_eq!(decide(&rules, "1001", "0044123"), Decision::NoRule);
        assert!(matches!(
            decide(&rules, "1000", "0044123"),
            Decision::Route {
                rule: "international",
                ..
            }
        ));
        assert_eq!(decide(&rules, "1000", "1001"), Decision::NoRule);
    }

    #[test]
    fn trunk_calls_are_counted_per_trunk() {
        let c = TrunkCalls::default();
        c.add("a", 0);
        c.add("b", 0);
        c.add("c", 1);
        assert_eq!((c.count(0), c.count(1)), (2, 1));
        c.end("a");
        c.end("zzz");
        assert_eq!(c.count(0), 1);
    }
}
