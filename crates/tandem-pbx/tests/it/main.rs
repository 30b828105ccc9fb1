//! The PBX core's cluster behaviour on virtual time, without sockets:
//! two cores (two nodes) over one replica decide the same owner for every
//! duty, a response for another live node's transaction is relayed to it,
//! one for a dead node's transaction is forwarded by its Via and its call
//! recorded, and CDR writes carry the conditions that make them
//! exactly-once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tandem_pbx::{
    Algorithm, ClusterView, Core, CoreConfig, Effect, FailureLimiter, LocalIdentity, MemberAddr,
    NonceKeeper, Now, RegistrarConfig, Shared,
};
use tandem_sip::{Message, ParseOptions};
use tandem_store::{
    dialog_key, Binding, Change, DialogRecord, DialogState, Expect, FlowRecord, Op, Record,
    Replica, SharedReplica,
};
use tandem_transaction::{Flow, TransactionLayer, TransportKind};

const VIP: [u8; 4] = [10, 0, 0, 100];

fn addr(ip: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::from((ip, port))
}

/// A node `name` at 10.0.0.`n`:5060 (and the floating IP 10.0.0.100).
mod trunks;

fn core(name: &str, n: u8, replica: &SharedReplica, keepalive_secs: u32) -> (Core, Arc<Shared>) {
    core_with(name, n, replica, keepalive_secs, Default::default())
}

fn core_with(
    name: &str,
    n: u8,
    replica: &SharedReplica,
    keepalive_secs: u32,
    trunks: tandem_pbx::TrunkPlan,
) -> (Core, Arc<Shared>) {
    let own = addr([10, 0, 0, n], 5060);
    let config = CoreConfig {
        identity: LocalIdentity::new(
            [
                "10.0.0.100".to_string(),
                own.ip().to_string(),
                "pbx.test".into(),
            ],
            [5060],
        ),
        server: "tandem-test".into(),
        node: name.into(),
        realm: "pbx.test".into(),
        algorithms: vec![Algorithm::Md5],
        registrar: RegistrarConfig {
            keepalive_interval_secs: keepalive_secs,
            ..RegistrarConfig::default()
        },
        advertise: vec![
            (TransportKind::Udp, own),
            (TransportKind::Udp, addr(VIP, 5060)),
        ],
        flow_secret: [7; 32],
        timer_c: Duration::from_secs(180),
        call_max_secs: 3600,
        floating: Some(VIP.into()),
        record_route_floating: true,
        outbound: Default::default(),
        trunks,
    };
    let shared = Arc::new(Shared {
        replica: replica.clone(),
        nonces: NonceKeeper::new([1; 32], 300_000),
        failures: FailureLimiter::new(20, 60_000, 300_000),
        cluster: ClusterView::default(),
        quarantine: Default::default(),
        trunk_calls: Default::default(),
        cseq_shifts: Default::default(),
        registrars: Default::default(),
    });
    (Core::new(config, shared.clone(), u64::from(n)), shared)
}

fn now(unix_ms: u64) -> Now {
    // Monotonic time only orders timers here; one reading as the origin.
    #[allow(clippy::disallowed_methods)]
    static ORIGIN: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);
    Now {
        instant: *ORIGIN + Duration::from_millis(unix_ms - T0),
        unix_ms,
    }
}

const T0: u64 = 1_800_000_000_000;

fn put(replica: &SharedReplica, key: &str, value: Vec<u8>, expires_at_ms: Option<u64>) {
    let mut r = replica.write().unwrap();
    let rev = r.rev() + 1;
    r.apply(&Change::Put(Record {
        key: key.into(),
        value,
        rev,
        expires_at_ms,
    }));
}

fn binding(replica: &SharedReplica, aor: &str, port: u16) {
    let b = Binding {
        aor: aor.into(),
        contact: format!("sip:{aor}@192.0.2.10:{port}"),
        instance: None,
        reg_id: None,
        q_millis: 1000,
        expires_at_ms: T0 + 3_600_000,
        call_id: format!("reg-{aor}-{port}"),
        cseq: 1,
        path: Vec::new(),
        source: FlowRecord {
            transport: "udp".into(),
            remote: format!("192.0.2.10:{port}"),
            local: "10.0.0.100:5060".into(),
            connection: None,
            node: "a".into(),
        },
        user_agent: None,
        registered_at_ms: T0,
    };
    let key = tandem_store::binding_key(aor, &format!("{port}"));
    put(
        replica,
        &key,
        serde_json::to_vec(&b).unwrap(),
        Some(b.expires_at_ms),
    );
}

fn members(shared: &[&Arc<Shared>], names: &[&str]) {
    let list: Vec<MemberAddr> = names
        .iter()
        .enumerate()
        .map(|(i, n)| MemberAddr {
            node: (*n).into(),
            sip_udp: Some(addr([10, 0, 0, i as u8 + 1], 5060)),
        })
        .collect();
    for s in shared {
        s.cluster.set_members(list.clone());
    }
}

fn sent(layer: &mut TransactionLayer) -> Vec<(Flow, Message)> {
    let mut v = Vec::new();
    while let Some(t) = layer.poll_transmit() {
        let m = Message::parse(t.payload.clone(), &ParseOptions::default()).unwrap();
        v.push((t.flow, m));
    }
    v
}

fn effects(core: &mut Core) -> Vec<Vec<Op>> {
    let mut v = Vec::new();
    while let Some(Effect::Commit { ops, .. }) = core.poll_effect() {
        v.push(ops);
    }
    v
}

#[test]
fn every_contact_gets_its_keepalive_from_exactly_one_live_node() {
    let replica = Replica::shared();
    for i in 0..40 {
        binding(&replica, &format!("{}", 2000 + i), 6000 + i);
    }
    let (mut a, sa) = core("a", 1, &replica, 10);
    let (mut b, sb) = core("b", 2, &replica, 10);
    members(&[&sa, &sb], &["a", "b"]);
    let names = vec!["a".to_string(), "b".to_string()];
    let (mut la, mut lb) = (
        TransactionLayer::new(Default::default()),
        TransactionLayer::new(Default::default()),
    );
    // Two intervals, a duty round every second.
    let mut pinged: std::collections::HashMap<String, Vec<&str>> = Default::default();
    for s in 0..=20 {
        let t = now(T0 + s * 1000);
        a.run_duties(t, &names, &mut la);
        b.run_duties(t, &names, &mut lb);
        for (who, layer) in [("a", &mut la), ("b", &mut lb)] {
            for (flow, m) in sent(layer) {
                assert_eq!(m.method(), Some(&tandem_sip::Method::Options));
                assert_eq!(flow.transport, TransportKind::Udp);
                pinged
                    .entry(m.request_uri_str().unwrap().to_owned())
                    .or_default()
                    .push(who);
            }
        }
    }
    assert_eq!(pinged.len(), 40, "every contact is pinged");
    for (contact, by) in &pinged {
        assert!(
            by.iter().all(|w| *w == by[0]),
            "{contact} pinged by two nodes: {by:?}"
        );
        assert!(
            (2..=3).contains(&by.len()),
            "{contact}: one ping per interval, got {by:?}"
        );
    }
    let by_a = pinged.values().filter(|v| v[0] == "a").count();
    assert!(
        by_a > 5 && by_a < 35,
        "the duty is shared: a has {by_a} of 40"
    );

    // b dies: a takes all of them over.
    members(&[&sa], &["a"]);
    let only_a = vec!["a".to_string()];
    let mut after: std::collections::HashSet<String> = Default::default();
    for s in 21..=45 {
        a.run_duties(now(T0 + s * 1000), &only_a, &mut la);
        for (_, m) in sent(&mut la) {
            after.insert(m.request_uri_str().unwrap().to_owned());
        }
    }
    assert_eq!(after.len(), 40, "the survivor pings every contact");
    let _ = sb;
}

fn dialog(replica: &SharedReplica, call: &str, answered_ms: u64) -> String {
    let d = DialogRecord {
        call_id: call.into(),
        from_tag: "ft".into(),
        to_tag: "tt".into(),
        caller: "1000".into(),
        callee: "1001".into(),
        state: DialogState::Confirmed,
        started_ms: answered_ms - 2000,
        answered_ms: Some(answered_ms),
        owner: "a".into(),
        session_expires_secs: None,
    };
    let key = dialog_key(call, "ft", "tt");
    put(replica, &key, serde_json::to_vec(&d).unwrap(), None);
    key
}

#[test]
fn an_overdue_call_is_ended_by_one_node_with_an_exactly_once_cdr() {
    let replica = Replica::shared();
    let keys: Vec<String> = (0..20)
        .map(|i| dialog(&replica, &format!("call-{i}"), T0))
        .collect();
    let (mut a, sa) = core("a", 1, &replica, 0);
    let (mut b, sb) = core("b", 2, &replica, 0);
    members(&[&sa, &sb], &["a", "b"]);
    let names = vec!["a".to_string(), "b".to_string()];
    let mut layer = TransactionLayer::new(Default::default());
    // Not yet overdue.
    let t = now(T0 + 3_599_000);
    assert_eq!(
        a.run_duties(t, &names, &mut layer) + b.run_duties(t, &names, &mut layer),
        0
    );
    let t = now(T0 + 3_600_000);
    let ended = a.run_duties(t, &names, &mut layer) + b.run_duties(t, &names, &mut layer);
    assert_eq!(ended, 20, "each overdue call ended once");
    // A second round ends nothing more.
    assert_eq!(
        a.run_duties(t, &names, &mut layer) + b.run_duties(t, &names, &mut layer),
        0
    );
    let batches: Vec<Vec<Op>> = effects(&mut a).into_iter().chain(effects(&mut b)).collect();
    assert_eq!(batches.len(), 20);
    for ops in &batches {
        // The end mark must be absent, is created, the CDR is written and
        // the dialog deleted, all in one batch.
        assert!(
            matches!(&ops[0], Op::Require { key, expect: Expect::Absent } if key.starts_with("end/"))
        );
        assert!(matches!(&ops[1], Op::Put { key, .. } if key.starts_with("end/")));
        let Op::Put { key, value, .. } = &ops[2] else {
            panic!("{ops:?}")
        };
        assert!(key.starts_with("cdr/"));
        let cdr: tandem_store::Cdr = serde_json::from_slice(value).unwrap();
        assert_eq!(cdr.end_cause, "timeout");
        assert!(matches!(&ops[3], Op::Delete { key } if keys.contains(key)));
    }
}

/// A 200 OK for an INVITE that node `owner_node` forwarded, as the callee
/// sends it to the floating IP.
fn answer_from_callee(owner_hash: u32, code: u16) -> Message {
    let text = format!(
        "SIP/2.0 {code} OK\r\nVia: SIP/2.0/UDP 10.0.0.100:5060;branch=z9hG4bK-td{owner_hash:08x}0123456789abcdef;rport\r\nVia: SIP/2.0/UDP 192.0.2.50:5070;branch=z9hG4bK-caller1;received=192.0.2.50;rport=5070\r\nFrom: <sip:1000@pbx.test>;tag=ft\r\nTo: <sip:1001@pbx.test>;tag=tt\r\nCall-ID: ringing-1\r\nCSeq: 2 INVITE\r\nContact: <sip:1001@192.0.2.10:6000>\r\nContent-Length: 0\r\n\r\n"
    );
    Message::parse(bytes::Bytes::from(text), &ParseOptions::default()).unwrap()
}

#[test]
fn a_response_for_a_live_peer_is_relayed_and_for_a_dead_one_forwarded_and_recorded() {
    let replica = Replica::shared();
    let (mut b, sb) = core("b", 2, &replica, 0);
    sb.cluster.set_floating_held(true);
    members(&[&sb], &["a", "b"]);
    let mut layer = TransactionLayer::new(Default::default());
    let t = now(T0);
    let vip = addr(VIP, 5060);
    let from_callee = Flow {
        transport: TransportKind::Udp,
        remote: addr([192, 0, 2, 10], 6000),
        local: vip,
        connection: None,
    };
    // a is alive: its transaction gets the response, untouched.
    layer.handle_message(
        t.instant,
        answer_from_callee(tandem_pbx::node_hash("a"), 200),
        from_callee,
    );
    while let Some(e) = layer.poll_event() {
        b.on_event(t, e, &mut layer);
    }
    let out = sent(&mut layer);
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].0.remote,
        addr([10, 0, 0, 1], 5060),
        "relayed to a's own address"
    );
    assert_eq!(out[0].1.vias().count(), 2, "untouched");
    assert!(effects(&mut b).is_empty(), "a keeps the call's records");

    // a died: the response goes up the Via chain, and b records the call.
    members(&[&sb], &["b"]);
    layer.handle_message(
        t.instant,
        answer_from_callee(tandem_pbx::node_hash("a"), 200),
        from_callee,
    );
    while let Some(e) = layer.poll_event() {
        b.on_event(t, e, &mut layer);
    }
    let out = sent(&mut layer);
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].0.remote,
        addr([192, 0, 2, 50], 5070),
        "to the caller"
    );
    assert_eq!(out[0].0.local, vip, "from the floating IP it holds");
    assert_eq!(out[0].1.vias().count(), 1, "our Via popped");
    let batches = effects(&mut b);
    assert_eq!(batches.len(), 1, "{batches:?}");
    let ops = &batches[0];
    assert!(ops.iter().any(
        |o| matches!(o, Op::Require { key, expect: Expect::Absent } if key == "end/ringing-1;ft")
    ));
    assert!(ops
        .iter()
        .any(|o| matches!(o, Op::Put { key, .. } if *key == dialog_key("ringing-1", "ft", "tt"))));
    // A retransmission of the 200 writes nothing more.
    layer.handle_message(
        t.instant,
        answer_from_callee(tandem_pbx::node_hash("a"), 200),
        from_callee,
    );
    while let Some(e) = layer.poll_event() {
        b.on_event(t, e, &mut layer);
    }
    assert_eq!(sent(&mut layer).len(), 1);
    assert!(effects(&mut b).is_empty());
}

#[test]
fn a_bye_that_outruns_its_dialog_record_still_gets_the_one_cdr() {
    // The dialog was set up on node a, whose record is still waiting for
    // the store; the BYE reaches b (the floating IP moved).
    let replica = Replica::shared();
    let (mut b, sb) = core("b", 2, &replica, 0);
    sb.cluster.set_floating_held(true);
    members(&[&sb], &["a", "b"]);
    let mut layer = TransactionLayer::new(Default::default());
    let t = now(T0);
    let text = "BYE sip:1001@192.0.2.10:6000 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.50:5070;branch=z9hG4bK-bye1;rport\r\nRoute: <sip:10.0.0.100:5060;lr>\r\nMax-Forwards: 70\r\nFrom: <sip:1000@pbx.test>;tag=ft\r\nTo: <sip:1001@pbx.test>;tag=tt\r\nCall-ID: late-1\r\nCSeq: 3 BYE\r\nContent-Length: 0\r\n\r\n";
    let bye = Message::parse(bytes::Bytes::from(text), &ParseOptions::default()).unwrap();
    let from_caller = Flow {
        transport: TransportKind::Udp,
        remote: addr([192, 0, 2, 50], 5070),
        local: addr(VIP, 5060),
        connection: None,
    };
    layer.handle_message(t.instant, bye, from_caller);
    while let Some(e) = layer.poll_event() {
        b.on_event(t, e, &mut layer);
    }
    let out = sent(&mut layer);
    assert!(
        out.iter()
            .any(|(f, m)| f.remote == addr([192, 0, 2, 10], 6000) && m.method().is_some()),
        "the BYE goes on to the callee: {out:?}"
    );
    let batches = effects(&mut b);
    assert_eq!(batches.len(), 1, "{batches:?}");
    let ops = &batches[0];
    assert!(ops
        .iter()
        .any(|o| matches!(o, Op::Put { key, .. } if key.starts_with("cdr/"))));
    // Whether a's dialog record lands before or after this batch, the CDR
    // is written: the batch deletes the dialog instead of requiring it
    // absent; only the call's end mark guards it.
    assert!(!ops
        .iter()
        .any(|o| matches!(o, Op::Require { key, .. } if key.starts_with("dlg/"))));
    assert!(ops
        .iter()
        .any(|o| matches!(o, Op::Delete { key } if *key == dialog_key("late-1", "ft", "tt"))));
    assert!(ops.iter().any(
        |o| matches!(o, Op::Require { key, expect: Expect::Absent } if key == "end/late-1;ft")
    ));
}

#[test]
fn a_register_without_credentials_is_challenged_without_a_transaction() {
    let replica = Replica::shared();
    let (core, _) = core("a", 1, &replica, 0);
    let register = |extra: &str, domain: &str| {
        let text = format!("REGISTER sip:{domain} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.50:5070;branch=z9hG4bK-r1;rport\r\nMax-Forwards: 70\r\nFrom: <sip:1000@pbx.test>;tag=ft\r\nTo: <sip:1000@pbx.test>\r\nCall-ID: reg-1\r\nCSeq: 1 REGISTER\r\nContact: <sip:1000@192.0.2.50:5070>\r\n{extra}Content-Length: 0\r\n\r\n");
        Message::parse(bytes::Bytes::from(text), &ParseOptions::default()).unwrap()
    };
    let ip = addr([192, 0, 2, 50], 5070).ip();
    let answer = core
        .stateless_challenge(&register("", "pbx.test"), ip, T0, 1)
        .expect("challenged statelessly");
    let answer = Message::parse(answer, &ParseOptions::default()).unwrap();
    assert_eq!(answer.status(), Some(401));
    assert!(answer.to_tag().is_some());
    assert!(answer
        .header_str(tandem_sip::HeaderName::WwwAuthenticate)
        .is_some_and(|c| c.contains("realm=\"pbx.test\"") && c.contains("qop=\"auth\"")));
    // A different salt, a different nonce: no two challenges alike.
    let again = core
        .stateless_challenge(&register("", "pbx.test"), ip, T0, 2)
        .unwrap();
    assert_ne!(
        Message::parse(again, &ParseOptions::default())
            .unwrap()
            .header_str(tandem_sip::HeaderName::WwwAuthenticate),
        answer.header_str(tandem_sip::HeaderName::WwwAuthenticate)
    );
    // Credentials, another domain or a Require go the stateful way.
    let creds = "Authorization: Digest username=\"1000\", realm=\"pbx.test\", nonce=\"x\", uri=\"sip:pbx.test\", response=\"0\"\r\n";
    assert!(core
        .stateless_challenge(&register(creds, "pbx.test"), ip, T0, 3)
        .is_none());
    assert!(core
        .stateless_challenge(&register("", "elsewhere.test"), ip, T0, 4)
        .is_none());
    assert!(core
        .stateless_challenge(&register("Require: foo\r\n", "pbx.test"), ip, T0, 5)
        .is_none());
}
