//! `SipResolver` against the zone server: RFC 3263 resolution end to end,
//! health changes seen by the next resolution, caching and errors.

use super::*;
use tandem_dns::{Error, Target, TargetUri};
use Transport::{Tcp, Tls, Udp, Ws};

fn uri(host: &str) -> TargetUri {
    TargetUri {
        host: host.into(),
        port: None,
        transport: None,
        sips: false,
    }
}

fn addrs(targets: &[Target]) -> Vec<String> {
    targets.iter().map(|t| t.addr.to_string()).collect()
}

/// Checks the targets of one transport: a and b (priority 10) in either
/// order, then c (priority 20).
fn check_group(group: &[Target], transport: Transport, port: u16) {
    assert!(group.iter().all(|t| t.transport == transport), "{group:?}");
    let mut first: Vec<String> = addrs(&group[..3]);
    first.sort();
    assert_eq!(
        first,
        [
            format!("127.0.0.11:{port}"),
            format!("127.0.0.12:{port}"),
            format!("[2001:db8::12]:{port}"),
        ]
    );
    assert_eq!(addrs(&group[3..]), [format!("127.0.0.13:{port}")]);
    assert_eq!(group[3].host, "c.pbx.example.test.");
}

#[tokio::test]
async fn naptr_then_srv_then_addresses() {
    let running = start().await;
    let resolver = running.resolver(None);
    let targets = resolver
        .resolve(&uri("pbx.example.test"), &[Udp, Tcp, Tls])
        .await
        .expect("targets");
    assert_eq!(targets.len(), 12, "{targets:?}");
    check_group(&targets[0..4], Udp, 5060);
    check_group(&targets[4..8], Tcp, 5060);
    check_group(&targets[8..12], Tls, 5061);

    // Only the transports this node has, in the zone's NAPTR order.
    let targets = resolver
        .resolve(&uri("PBX.Example.Test."), &[Tls, Tcp])
        .await
        .expect("targets");
    assert_eq!(targets.len(), 8);
    check_group(&targets[0..4], Tcp, 5060);
    check_group(&targets[4..8], Tls, 5061);
}

#[tokio::test]
async fn sips_explicit_port_and_explicit_transport() {
    let running = start().await;
    let resolver = running.resolver(None);

    let sips = TargetUri {
        sips: true,
        ..uri("pbx.example.test")
    };
    let targets = resolver
        .resolve(&sips, &[Udp, Tcp, Tls])
        .await
        .expect("targets");
    check_group(&targets, Tls, 5061);

    let port = TargetUri {
        port: Some(5070),
        ..uri("pbx.example.test")
    };
    let targets = resolver.resolve(&port, &[Udp, Tcp]).await.expect("targets");
    assert_eq!(addrs(&targets), ["127.0.0.10:5070"]);
    assert_eq!(targets[0].transport, Udp);

    let tcp = TargetUri {
        transport: Some(Tcp),
        ..uri("pbx.example.test")
    };
    let targets = resolver.resolve(&tcp, &[Udp, Tcp]).await.expect("targets");
    check_group(&targets, Tcp, 5060);

    let literal = TargetUri {
        port: Some(5062),
        ..uri("127.0.0.99")
    };
    let targets = resolver.resolve(&literal, &[Udp]).await.expect("targets");
    assert_eq!(addrs(&targets), ["127.0.0.99:5062"]);
}

#[tokio::test]
async fn health_changes_show_in_the_next_resolution() {
    let running = start().await;
    // Nothing cached: every resolution asks the server.
    let resolver = running.resolver(Some(0));
    let u = uri("pbx.example.test");
    assert_eq!(
        resolver.resolve(&u, &[Udp]).await.expect("targets").len(),
        4
    );

    assert!(running.set_healthy("a", false));
    let targets = resolver.resolve(&u, &[Udp]).await.expect("targets");
    assert_eq!(addrs(&targets[..2]).len(), 2);
    let mut first = addrs(&targets[..2]);
    first.sort();
    assert_eq!(first, ["127.0.0.12:5060", "[2001:db8::12]:5060"]);
    assert_eq!(addrs(&targets[2..]), ["127.0.0.13:5060"]);

    assert!(running.set_healthy("a", true));
    check_group(
        &resolver.resolve(&u, &[Udp]).await.expect("targets"),
        Udp,
        5060,
    );
    assert_eq!(running.zone.borrow().serial(), SERIAL_START + 2);
}

#[tokio::test]
async fn with_no_healthy_node_the_floating_ip_is_what_remains() {
    let running = start().await;
    let resolver = running.resolver(Some(0));
    for name in ["a", "b", "c"] {
        running.set_healthy(name, false);
    }
    // NAPTR still names the SRV owners, which answer NODATA: RFC 3263 §4.2
    // falls back to the domain's own address on the default port.
    let targets = resolver
        .resolve(&uri("pbx.example.test"), &[Udp, Tcp])
        .await
        .expect("targets");
    assert_eq!(addrs(&targets), ["127.0.0.10:5060"]);
    assert_eq!(targets[0].transport, Udp);
}

#[tokio::test]
async fn answers_are_cached_for_their_ttl() {
    let running = start().await;
    // The zone's TTL is 5 s: the second resolution comes from the cache.
    let resolver = running.resolver(None);
    let u = uri("pbx.example.test");
    assert_eq!(
        resolver.resolve(&u, &[Udp]).await.expect("targets").len(),
        4
    );
    running.set_healthy("c", false);
    assert_eq!(
        resolver.resolve(&u, &[Udp]).await.expect("targets").len(),
        4
    );
    resolver.clear_cache();
    assert_eq!(
        resolver.resolve(&u, &[Udp]).await.expect("targets").len(),
        3
    );
}

#[tokio::test]
async fn no_fitting_transport_is_no_targets() {
    let running = start().await;
    let resolver = running.resolver(None);
    // The zone offers no WebSocket, and the A fallback needs UDP or TCP.
    let err = resolver
        .resolve(&uri("pbx.example.test"), &[Ws])
        .await
        .expect_err("no targets");
    assert!(
        matches!(&err, Error::NoTargets { host } if host == "pbx.example.test."),
        "{err:?}"
    );
    // A SIPS URI cannot go over UDP at all: no lookup is even made.
    let sips = TargetUri {
        sips: true,
        ..uri("pbx.example.test")
    };
    assert!(matches!(
        resolver.resolve(&sips, &[Udp]).await,
        Err(Error::NoTargets { .. })
    ));
    // A name with no records at all.
    let err = resolver
        .resolve(&uri("nope.pbx.example.test"), &[Udp])
        .await
        .expect_err("no targets");
    assert!(matches!(err, Error::NoTargets { .. }), "{err:?}");
}

#[tokio::test]
async fn a_refusal_is_a_lookup_error() {
    let running = start().await;
    let resolver = running.resolver(None);
    let err = resolver
        .resolve(&uri("example.org"), &[Udp])
        .await
        .expect_err("refused");
    match err {
        Error::Lookup {
            name, record_type, ..
        } => {
            assert_eq!(name, "example.org.");
            assert_eq!(record_type, RecordType::NAPTR);
        }
        other => panic!("expected a lookup error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_silent_server_is_a_timeout() {
    // Sockets that take queries and never answer.
    let udp = UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let addr = udp.local_addr().expect("addr");
    let _tcp = tokio::net::TcpListener::bind(addr).await.expect("bind tcp");
    let config = ResolverConfig {
        nameservers: vec![addr],
        timeout_ms: 200,
        attempts: 1,
        ..ResolverConfig::default()
    };
    let resolver = SipResolver::new(&config, 1).expect("resolver");
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        resolver.resolve(&uri("pbx.example.test"), &[Udp]),
    )
    .await
    .expect("gives up by itself")
    .expect_err("nothing answers");
    assert!(
        matches!(&err, Error::Timeout { name, record_type: RecordType::NAPTR } if name == "pbx.example.test."),
        "{err:?}"
    );
    // A literal needs no server.
    let literal = uri("127.0.0.5");
    let targets = resolver.resolve(&literal, &[Udp]).await.expect("literal");
    assert_eq!(addrs(&targets), ["127.0.0.5:5060"]);
}
