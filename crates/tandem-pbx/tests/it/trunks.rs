//! Trunks through the core and a real transaction layer, on virtual time.
//! Registration: leading starts the REGISTER (contact on the floating IP),
//! the carrier's 401 is answered with credentials in a new transaction,
//! the 200 schedules the refresh, every state is written to
//! `trunk/<name>`, and losing leadership stops everything at once (no
//! de-registration of the floating contact the next leader takes over, no
//! refresh later). Calls out: E.164 Request-URI, caller ID and
//! P-Asserted-Identity per trust (RFC 3325), `Privacy: id` (RFC 3323), and
//! a carrier's 407 answered with the trunk's credentials while the caller
//! keeps its CSeq.

use super::{core_with, now, sent, T0};
use tandem_pbx::{Core, Effect, TrunkPlan, TrunkSpec};
use tandem_sip::{Message, ParseOptions};
use tandem_store::{Op, Replica, TrunkRecord};
use tandem_transaction::{Flow, TransactionLayer, TransportKind};

fn plan() -> TrunkPlan {
    TrunkPlan {
        trunks: vec![TrunkSpec {
            name: "carrier".into(),
            host: "192.0.2.50".into(),
            port: Some(5070),
            transport: None,
            register: true,
            username: Some("trunkuser".into()),
            password: Some("trunkpw".into()),
            expires_secs: 300,
            allowed_sources: Vec::new(),
            calls_max: None,
            caller_id: None,
            trusted: false,
        }],
        ..TrunkPlan::default()
    }
}

fn records(core: &mut Core) -> Vec<TrunkRecord> {
    let mut v = Vec::new();
    while let Some(e) = core.poll_effect() {
        if let Effect::Commit { ops, .. } = e {
            for op in ops {
                if let Op::Put { key, value, .. } = op {
                    assert_eq!(key, "trunk/carrier");
                    v.push(serde_json::from_slice(&value).unwrap());
                }
            }
        }
    }
    v
}

/// The carrier's answer to `req` (every Via echoed, RFC 3261 section 8.2.6.2).
fn answer(req: &Message, status: &str, extra: &str) -> Message {
    use tandem_sip::HeaderName as H;
    let h = |n: H| req.header_str(n).unwrap().to_owned();
    let vias: String = req
        .headers()
        .filter(|f| f.name == H::Via)
        .map(|f| format!("Via: {}\r\n", String::from_utf8_lossy(f.value)))
        .collect();
    let text = format!(
        "SIP/2.0 {status}\r\n{vias}From: {}\r\nTo: {};tag=carrier\r\nCall-ID: {}\r\nCSeq: {}\r\n{extra}Content-Length: 0\r\n\r\n",
        h(H::From),
        h(H::To),
        h(H::CallId),
        h(H::CSeq)
    );
    Message::parse(bytes::Bytes::from(text), &ParseOptions::default()).unwrap()
}

fn deliver(core: &mut Core, layer: &mut TransactionLayer, at: u64, msg: Message, to: Flow) {
    let back = Flow {
        remote: to.remote,
        local: to.local,
        ..to
    };
    layer.handle_message(now(at).instant, msg, back);
    while let Some(ev) = layer.poll_event() {
        core.on_event(now(at), ev, layer);
    }
}

#[test]
fn the_leader_registers_answers_the_challenge_refreshes_and_stops_when_fenced() {
    let replica = Replica::shared();
    let (mut core, _) = core_with("a", 1, &replica, 0, plan());
    let mut layer = TransactionLayer::new(Default::default());
    // Not leading: nothing happens.
    assert!(sent(&mut layer).is_empty());
    core.set_leading(now(T0), Some(41), &|_| true, &mut layer);
    let out = sent(&mut layer);
    assert_eq!(out.len(), 1);
    let (flow, first) = &out[0];
    assert_eq!(flow.remote, "192.0.2.50:5070".parse().unwrap());
    assert_eq!(flow.transport, TransportKind::Udp);
    assert_eq!(first.request_uri_str(), Some("sip:192.0.2.50:5070"));
    let contact = first.header_str(tandem_sip::HeaderName::Contact).unwrap();
    assert_eq!(
        contact, "<sip:trunkuser@10.0.0.100:5060>",
        "the floating IP"
    );
    assert_eq!(
        first.header_str(tandem_sip::HeaderName::Expires),
        Some("300")
    );
    let rec = records(&mut core);
    assert_eq!(rec.last().unwrap().state, "registering");
    assert_eq!((rec[0].epoch, rec[0].node.as_str()), (41, "a"));

    let challenge = answer(
        first,
        "401 Unauthorized",
        "WWW-Authenticate: Digest realm=\"carrier.test\", nonce=\"abc\", qop=\"auth\", algorithm=MD5\r\n",
    );
    deliver(&mut core, &mut layer, T0 + 20, challenge, *flow);
    let out = sent(&mut layer);
    let (_, second) = out
        .iter()
        .find(|(_, m)| m.method() == Some(&tandem_sip::Method::Register))
        .expect("a second REGISTER");
    assert_eq!(second.cseq().unwrap().0, 2, "CSeq + 1");
    assert_ne!(second.branch(), first.branch(), "a new transaction");
    assert_eq!(second.call_id(), first.call_id());
    let auth = second
        .header_str(tandem_sip::HeaderName::Authorization)
        .unwrap();
    assert!(
        auth.contains("username=\"trunkuser\"")
            && auth.contains("nonce=\"abc\"")
            && auth.contains("uri=\"sip:192.0.2.50:5070\""),
        "{auth}"
    );
    let ok = answer(
        second,
        "200 OK",
        "Contact: <sip:trunkuser@10.0.0.100:5060>;expires=300\r\n",
    );
    deliver(&mut core, &mut layer, T0 + 40, ok, *flow);
    let rec = records(&mut core);
    let last = rec.last().unwrap();
    assert_eq!((last.state.as_str(), last.last_status), ("registered", 200));
    assert_eq!(last.expires_at_ms, Some(T0 + 40 + 300_000));
    // The refresh is due at 80 % of 300 s.
    assert_eq!(core.poll_timeout(), Some(now(T0 + 40 + 240_000).instant));

    // Fenced: leadership lost. Nothing is sent (the floating contact is
    // the next leader's to refresh), the state says stopped, and the
    // refresh never comes.
    let _ = sent(&mut layer);
    core.set_leading(now(T0 + 1000), None, &|_| true, &mut layer);
    assert!(sent(&mut layer).is_empty());
    assert_eq!(records(&mut core).last().unwrap().state, "stopped");
    core.handle_timeout(now(T0 + 300_000), &mut layer);
    assert!(
        sent(&mut layer)
            .iter()
            .all(|(_, m)| m.method() != Some(&tandem_sip::Method::Register)),
        "no REGISTER after losing leadership"
    );
    // Leading again, a later epoch: a new registration, a new Call-ID.
    core.set_leading(now(T0 + 400_000), Some(57), &|_| true, &mut layer);
    let out = sent(&mut layer);
    assert_eq!(out.len(), 1);
    assert_ne!(out[0].1.call_id(), first.call_id());
    assert_eq!(records(&mut core).last().unwrap().epoch, 57);
}

/// A core with trunk `t1` (trusted or not) and one rule: national
/// numbers out on it in E.164; extension 1000 with an outbound caller ID.
fn calling_core(
    trusted: bool,
    calls_max: Option<u32>,
) -> (Core, std::sync::Arc<tandem_pbx::Shared>) {
    let replica = Replica::shared();
    let ext = tandem_store::Extension {
        number: "1000".into(),
        display_name: None,
        realm: "pbx.test".into(),
        ha1_md5: tandem_pbx::Algorithm::Md5.ha1("1000", "pbx.test", "pw"),
        ha1_sha256: tandem_pbx::Algorithm::Sha256.ha1("1000", "pbx.test", "pw"),
        demo_password: false,
        caller_id: Some("+4930100".into()),
        group: None,
    };
    super::put(
        &replica,
        "ext/1000",
        serde_json::to_vec(&ext).unwrap(),
        None,
    );
    let mut plan = plan();
    plan.trunks[0].register = false;
    plan.trunks[0].trusted = trusted;
    plan.trunks[0].calls_max = calls_max;
    plan.outbound_rules = vec![tandem_pbx::OutboundRule {
        name: "national".into(),
        pattern: regex::Regex::new("^0[1-9]").unwrap(),
        from_extensions: Vec::new(),
        strip: 0,
        prepend: String::new(),
        country_code: Some("49".into()),
        national_prefix: Some("0".into()),
        trunks: vec![0],
        blocked: Vec::new(),
    }];
    core_with("a", 1, &replica, 0, plan)
}

/// An authenticated INVITE from extension 1000 for 030123 with `extra`
/// headers, as the core forwards it to the trunk.
fn call_out(trusted: bool, extra: &str) -> Message {
    call_out_on(trusted, extra).2
}

/// [`call_out`], with the core and its transaction layer to go on with.
fn call_out_on(trusted: bool, extra: &str) -> (Core, TransactionLayer, Message) {
    let (mut core, shared) = calling_core(trusted, None);
    let mut layer = TransactionLayer::new(Default::default());
    invite(&mut core, &shared, &mut layer, "call-out-1", extra);
    let m = to_trunk(&mut layer).expect("the INVITE went out on the trunk");
    (core, layer, m)
}

/// Extension 1000 calls 030123 (authenticated) in call `call_id`.
fn invite(
    core: &mut Core,
    shared: &tandem_pbx::Shared,
    layer: &mut TransactionLayer,
    call_id: &str,
    extra: &str,
) {
    // A nonce of its own per call: without qop a nonce serves once.
    let salt = call_id.bytes().fold(7u64, |h, b| h * 31 + u64::from(b));
    let nonce = shared.nonces.issue(T0, salt);
    let uri = "sip:030123@pbx.test";
    let md5 = tandem_pbx::Algorithm::Md5;
    let ha2 = md5.hash(&format!("INVITE:{uri}"));
    let response = md5.hash(&format!(
        "{}:{nonce}:{ha2}",
        md5.ha1("1000", "pbx.test", "pw")
    ));
    let text = format!(
        "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-{call_id};rport\r\nMax-Forwards: 70\r\nFrom: \"Boss\" <sip:1000@pbx.test>;tag=ph1\r\nTo: <{uri}>\r\nCall-ID: {call_id}\r\nCSeq: 2 INVITE\r\nContact: <sip:1000@192.0.2.10:5062>\r\nProxy-Authorization: Digest username=\"1000\", realm=\"pbx.test\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5\r\n{extra}Content-Length: 0\r\n\r\n"
    );
    let msg = Message::parse(bytes::Bytes::from(text), &ParseOptions::default()).unwrap();
    layer.handle_message(now(T0 + 10).instant, msg, phone());
    while let Some(ev) = layer.poll_event() {
        core.on_event(now(T0 + 10), ev, layer);
    }
}

fn phone() -> Flow {
    Flow {
        transport: TransportKind::Udp,
        remote: "192.0.2.10:5062".parse().unwrap(),
        local: "10.0.0.1:5060".parse().unwrap(),
        connection: None,
    }
}

fn trunk_flow() -> Flow {
    Flow {
        transport: TransportKind::Udp,
        remote: "192.0.2.50:5070".parse().unwrap(),
        local: "10.0.0.1:5060".parse().unwrap(),
        connection: None,
    }
}

/// The INVITE last sent to the trunk, if any.
fn to_trunk(layer: &mut TransactionLayer) -> Option<Message> {
    sent(layer)
        .into_iter()
        .filter(|(f, m)| {
            m.method() == Some(&tandem_sip::Method::Invite) && f.remote == trunk_flow().remote
        })
        .map(|(_, m)| m)
        .last()
}

#[test]
fn a_trusted_trunk_gets_the_asserted_identity_and_never_the_phones() {
    let m = call_out(true, "P-Asserted-Identity: <sip:+1999@evil.test>\r\n");
    use tandem_sip::HeaderName as H;
    assert_eq!(m.request_uri_str(), Some("sip:+4930123@192.0.2.50:5070"));
    let pai: Vec<&[u8]> = m
        .headers()
        .filter(|h| h.name == H::PAssertedIdentity)
        .map(|h| h.value)
        .collect();
    assert_eq!(pai, vec![&b"<sip:+4930100@192.0.2.50:5070>"[..]]);
    assert_eq!(
        m.header_str(H::From),
        Some("<sip:+4930100@192.0.2.50:5070>;tag=ph1"),
        "the extension's outbound caller ID, the caller's tag kept"
    );
}

#[test]
fn privacy_id_makes_the_caller_anonymous_towards_an_untrusted_trunk() {
    use tandem_sip::HeaderName as H;
    let m = call_out(
        false,
        "Privacy: id\r\nP-Asserted-Identity: <sip:1000@pbx.test>\r\n",
    );
    assert_eq!(
        m.header_str(H::From),
        Some("\"Anonymous\" <sip:anonymous@anonymous.invalid>;tag=ph1")
    );
    assert_eq!(m.header_str(H::PAssertedIdentity), None);
    // Without Privacy the number is shown, still without an assertion.
    let m = call_out(false, "");
    assert_eq!(
        m.header_str(H::From),
        Some("<sip:+4930100@192.0.2.50:5070>;tag=ph1")
    );
    assert_eq!(m.header_str(H::PAssertedIdentity), None);
}

#[test]
fn a_trunks_challenge_is_answered_and_the_caller_keeps_its_cseq() {
    use tandem_sip::HeaderName as H;
    let (mut core, mut layer, first) = call_out_on(false, "");
    assert_eq!(first.cseq().unwrap().0, 2);
    let challenge = answer(
        &first,
        "407 Proxy Authentication Required",
        "Proxy-Authenticate: Digest realm=\"carrier.test\", nonce=\"c1\", algorithm=MD5\r\n",
    );
    deliver(&mut core, &mut layer, T0 + 20, challenge, trunk_flow());
    let again = to_trunk(&mut layer).expect("the INVITE again, with credentials");
    assert_eq!(
        again.cseq().unwrap().0,
        3,
        "CSeq + 1 (RFC 3261 section 22.2)"
    );
    assert_ne!(again.branch(), first.branch());
    let creds = again.header_str(H::ProxyAuthorization).unwrap();
    assert!(
        creds.contains("username=\"trunkuser\"") && creds.contains("realm=\"carrier.test\""),
        "{creds}"
    );
    // The phone's own credentials never reach the carrier.
    assert!(!creds.contains("pbx.test"), "{creds}");
    // The carrier answers CSeq 3; the phone hears CSeq 2.
    let ok = answer(
        &again,
        "200 OK",
        "Contact: <sip:carrier@192.0.2.50:5070>\r\n",
    );
    deliver(&mut core, &mut layer, T0 + 30, ok, trunk_flow());
    let up: Vec<Message> = sent(&mut layer)
        .into_iter()
        .filter(|(f, m)| f.remote == phone().remote && m.status() == Some(200))
        .map(|(_, m)| m)
        .collect();
    assert_eq!(up.len(), 1, "the 200 goes up once");
    assert_eq!(up[0].cseq().unwrap().0, 2, "in the caller's numbering");
    // A second challenge for the same trunk is not answered again: that
    // trunk failed (the caller gets 500, RFC 3261 section 16.7 step 6).
    let (mut core, mut layer, first) = call_out_on(false, "");
    let challenge = answer(
        &first,
        "407 Proxy Authentication Required",
        "Proxy-Authenticate: Digest realm=\"carrier.test\", nonce=\"c1\", algorithm=MD5\r\n",
    );
    deliver(&mut core, &mut layer, T0 + 20, challenge, trunk_flow());
    let again = to_trunk(&mut layer).unwrap();
    let challenge = answer(
        &again,
        "407 Proxy Authentication Required",
        "Proxy-Authenticate: Digest realm=\"carrier.test\", nonce=\"c2\", algorithm=MD5\r\n",
    );
    deliver(&mut core, &mut layer, T0 + 40, challenge, trunk_flow());
    let out = sent(&mut layer);
    assert!(out.iter().all(|(f, m)| !(f.remote == trunk_flow().remote
        && m.method() == Some(&tandem_sip::Method::Invite))));
    let final_up: Vec<u16> = out
        .iter()
        .filter(|(f, _)| f.remote == phone().remote)
        .filter_map(|(_, m)| m.status())
        .filter(|s| *s >= 200)
        .collect();
    assert_eq!(final_up, vec![500]);
}

#[test]
fn a_full_trunk_refuses_the_next_call_until_one_ends() {
    let (mut core, shared) = calling_core(false, Some(1));
    let mut layer = TransactionLayer::new(Default::default());
    invite(&mut core, &shared, &mut layer, "first", "");
    let first = to_trunk(&mut layer).expect("the first call goes out");
    assert_eq!(shared.trunk_calls.count(0), 1);
    invite(&mut core, &shared, &mut layer, "second", "");
    let out = sent(&mut layer);
    assert!(out.iter().all(|(f, _)| f.remote != trunk_flow().remote));
    let refused: Vec<u16> = out.iter().filter_map(|(_, m)| m.status()).collect();
    assert!(refused.contains(&503), "{refused:?}");
    // The first call ends (busy): the trunk has room again.
    let busy = answer(&first, "486 Busy Here", "");
    deliver(&mut core, &mut layer, T0 + 50, busy, trunk_flow());
    assert_eq!(shared.trunk_calls.count(0), 0);
    invite(&mut core, &shared, &mut layer, "third", "");
    assert!(to_trunk(&mut layer).is_some(), "the third call goes out");
}

#[test]
fn an_inbound_rule_forwards_a_carriers_call_out_on_another_trunk() {
    let replica = Replica::shared();
    let mut plan = plan();
    plan.trunks[0].register = false;
    plan.trunks[0].allowed_sources = vec![tandem_pbx::SourceNet {
        addr: "192.0.2.50".parse().unwrap(),
        prefix_len: 32,
    }];
    plan.trunks.push(TrunkSpec {
        name: "mobile".into(),
        host: "192.0.2.51".into(),
        port: None,
        allowed_sources: Vec::new(),
        ..plan.trunks[0].clone()
    });
    plan.inbound_rules = vec![tandem_pbx::InboundRule {
        name: "forward".into(),
        trunk: Some(0),
        number: tandem_pbx::NumberMatch::Exact("4930999".into()),
        schedule: tandem_pbx::Schedule::default(),
        destination: tandem_pbx::Destination::Trunk(1),
    }];
    let (mut core, _) = core_with("a", 1, &replica, 0, plan);
    let mut layer = TransactionLayer::new(Default::default());
    let carrier = trunk_flow();
    let text = "INVITE sip:4930999@pbx.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.50:5070;branch=z9hG4bK-c1\r\nMax-Forwards: 70\r\nFrom: <sip:+4917012@192.0.2.50>;tag=c1\r\nTo: <sip:4930999@pbx.test>\r\nCall-ID: in-1\r\nCSeq: 1 INVITE\r\nContact: <sip:+4917012@192.0.2.50:5070>\r\nContent-Length: 0\r\n\r\n";
    let msg = Message::parse(bytes::Bytes::from(text), &ParseOptions::default()).unwrap();
    layer.handle_message(now(T0).instant, msg, carrier);
    while let Some(ev) = layer.poll_event() {
        core.on_event(now(T0), ev, &mut layer);
    }
    let out = sent(&mut layer);
    let (flow, fwd) = out
        .iter()
        .find(|(_, m)| m.method() == Some(&tandem_sip::Method::Invite))
        .expect("forwarded without a challenge");
    assert_eq!(flow.remote, "192.0.2.51:5060".parse().unwrap());
    assert_eq!(fwd.request_uri_str(), Some("sip:4930999@192.0.2.51"));
    assert!(out.iter().all(|(_, m)| m.status() != Some(407)));
}
