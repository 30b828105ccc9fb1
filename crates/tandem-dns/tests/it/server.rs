//! The zone server over UDP and TCP: flags, response codes, sections, and
//! answers that follow zone updates at once.

use super::*;
use hickory_proto::op::ResponseCode;

fn srv_targets(message: &Message) -> Vec<String> {
    let mut targets: Vec<String> = message
        .answers()
        .iter()
        .filter_map(|r| r.data().as_srv().map(|s| s.target().to_ascii()))
        .collect();
    targets.sort();
    targets
}

#[tokio::test]
async fn answers_are_authoritative_over_udp_and_tcp() {
    let running = start().await;
    for message in [
        udp_query(running.addr(), DOMAIN, RecordType::NAPTR).await,
        tcp_query(running.addr(), DOMAIN, RecordType::NAPTR).await,
    ] {
        assert_eq!(message.id(), 4242);
        assert_eq!(message.response_code(), ResponseCode::NoError);
        assert!(message.authoritative());
        assert!(!message.recursion_available());
        assert_eq!(
            answer_lines(&message),
            [
                "pbx.example.test. 5 IN NAPTR 10 10 \"s\" \"SIP+D2U\" \"\" _sip._udp.pbx.example.test.",
                "pbx.example.test. 5 IN NAPTR 20 10 \"s\" \"SIP+D2T\" \"\" _sip._tcp.pbx.example.test.",
                "pbx.example.test. 5 IN NAPTR 30 10 \"s\" \"SIPS+D2T\" \"\" _sips._tcp.pbx.example.test.",
            ]
        );
    }
    running.server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn srv_answers_name_the_nodes_and_carry_their_addresses() {
    let running = start().await;
    let srv = "_sips._tcp.pbx.example.test.";
    let message = tcp_query(running.addr(), srv, RecordType::SRV).await;
    assert!(message.authoritative());
    assert_eq!(
        srv_targets(&message),
        [
            "a.pbx.example.test.",
            "b.pbx.example.test.",
            "c.pbx.example.test."
        ]
    );
    assert!(message
        .answers()
        .iter()
        .all(|r| r.data().as_srv().is_some_and(|s| s.port() == 5061)));
    let mut additional: Vec<String> = message
        .additionals()
        .iter()
        .map(|r| r.to_string())
        .collect();
    additional.sort();
    assert_eq!(additional.len(), 4, "{additional:?}");
    assert!(additional.iter().any(|r| r.contains("2001:db8::12")));
    // Over UDP without EDNS the additional section is left out.
    let udp = udp_query(running.addr(), srv, RecordType::SRV).await;
    assert_eq!(srv_targets(&udp).len(), 3);
    assert!(udp.additionals().is_empty());
    let aaaa = tcp_query(running.addr(), "b.pbx.example.test.", RecordType::AAAA).await;
    assert_eq!(
        answer_lines(&aaaa),
        ["b.pbx.example.test. 5 IN AAAA 2001:db8::12"]
    );
}

#[tokio::test]
async fn negative_answers_carry_the_soa_and_foreign_names_are_refused() {
    let running = start().await;
    let nx = udp_query(running.addr(), "nope.pbx.example.test.", RecordType::A).await;
    assert_eq!(nx.response_code(), ResponseCode::NXDomain);
    assert!(nx.authoritative());
    assert_eq!(serial(&nx), SERIAL_START);

    let nodata = udp_query(running.addr(), "a.pbx.example.test.", RecordType::AAAA).await;
    assert_eq!(nodata.response_code(), ResponseCode::NoError);
    assert!(nodata.answers().is_empty());
    assert_eq!(nodata.name_servers().len(), 1);

    for name in ["example.org.", "example.test.", "xpbx.example.test."] {
        let refused = udp_query(running.addr(), name, RecordType::A).await;
        assert_eq!(refused.response_code(), ResponseCode::Refused, "{name}");
        assert!(!refused.authoritative());
        assert!(refused.answers().is_empty());
    }
    let axfr = tcp_query(running.addr(), DOMAIN, RecordType::AXFR).await;
    assert_eq!(axfr.response_code(), ResponseCode::Refused);
}

#[tokio::test]
async fn an_unhealthy_node_leaves_the_answers_at_once_and_comes_back() {
    let running = start().await;
    let srv = "_sip._udp.pbx.example.test.";
    assert_eq!(
        srv_targets(&udp_query(running.addr(), srv, RecordType::SRV).await).len(),
        3
    );

    assert!(running.set_healthy("b", false));
    let out = udp_query(running.addr(), srv, RecordType::SRV).await;
    assert_eq!(
        srv_targets(&out),
        ["a.pbx.example.test.", "c.pbx.example.test."]
    );
    assert_eq!(
        serial(&udp_query(running.addr(), DOMAIN, RecordType::SOA).await),
        SERIAL_START + 1
    );
    let gone = tcp_query(running.addr(), "b.pbx.example.test.", RecordType::A).await;
    assert_eq!(gone.response_code(), ResponseCode::NoError);
    assert!(gone.answers().is_empty());

    assert!(running.set_healthy("b", true));
    let back = tcp_query(running.addr(), srv, RecordType::SRV).await;
    assert_eq!(srv_targets(&back).len(), 3);
    assert_eq!(serial(&back_soa(&running).await), SERIAL_START + 2);
}

async fn back_soa(running: &Running) -> Message {
    udp_query(running.addr(), DOMAIN, RecordType::SOA).await
}

#[tokio::test]
async fn an_update_that_changes_nothing_keeps_the_serial() {
    let running = start().await;
    assert!(!running.update(|spec| spec.nodes[0].since_ms = 77));
    assert_eq!(serial(&back_soa(&running).await), SERIAL_START);
    assert_eq!(running.zone.borrow().describe().nodes[0].since_ms, 77);
}

#[tokio::test]
async fn no_healthy_node_means_nodata_for_srv() {
    let running = start().await;
    for name in ["a", "b", "c"] {
        running.set_healthy(name, false);
    }
    let message = udp_query(
        running.addr(),
        "_sip._tcp.pbx.example.test.",
        RecordType::SRV,
    )
    .await;
    assert_eq!(message.response_code(), ResponseCode::NoError);
    assert!(message.answers().is_empty());
    assert_eq!(serial(&message), SERIAL_START + 3);
    // The floating IP still answers.
    let sip = udp_query(running.addr(), "sip.pbx.example.test.", RecordType::A).await;
    assert_eq!(
        answer_lines(&sip),
        ["sip.pbx.example.test. 5 IN A 127.0.0.10"]
    );
}

#[tokio::test]
async fn shutdown_releases_the_port() {
    let running = start().await;
    let addr = running.addr();
    running.server.shutdown().await.expect("clean shutdown");
    UdpSocket::bind(addr).await.expect("UDP port free again");
    tokio::net::TcpListener::bind(addr)
        .await
        .expect("TCP port free again");
}
