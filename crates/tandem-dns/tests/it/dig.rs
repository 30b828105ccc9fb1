//! The zone as `dig` (BIND's client) sees it, over UDP and TCP. Skipped,
//! with a note, where `dig` is not installed (`scripts/test-deps.sh`
//! installs it).

use super::*;
use tandem_dns::Answer;
use tokio::process::Command;

/// Runs `dig` against the server; `None` when dig is not installed.
async fn dig(server: SocketAddr, args: &[&str]) -> Option<String> {
    let output = Command::new("dig")
        .arg(format!("@{}", server.ip()))
        .args([
            "-p",
            &server.port().to_string(),
            "+norecurse",
            "+time=2",
            "+tries=1",
        ])
        .args(args)
        .output()
        .await;
    match output {
        Ok(out) => {
            assert!(
                out.status.success(),
                "dig {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(String::from_utf8_lossy(&out.stdout).into_owned())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => panic!("cannot run dig: {e}"),
    }
}

/// dig's lines with runs of blanks made single spaces.
fn normalized(output: &str) -> Vec<String> {
    output
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// The records the zone itself gives for the question, as dig prints them.
fn expected(running: &Running, name: &str, record_type: RecordType) -> Vec<String> {
    match running.zone.borrow().answer(name, record_type) {
        Answer::Records { answers, .. } => answers.iter().map(ToString::to_string).collect(),
        other => panic!("records expected, got {other:?}"),
    }
}

#[tokio::test]
async fn dig_sees_naptr_srv_and_a_over_udp_and_tcp() {
    let running = start().await;
    let questions = [
        (DOMAIN, RecordType::NAPTR, 3),
        ("_sip._udp.pbx.example.test.", RecordType::SRV, 3),
        ("_sips._tcp.pbx.example.test.", RecordType::SRV, 3),
        ("a.pbx.example.test.", RecordType::A, 1),
        ("sip.pbx.example.test.", RecordType::A, 1),
    ];
    for transport in ["+notcp", "+tcp"] {
        for (name, record_type, count) in questions {
            let Some(out) = dig(running.addr(), &[transport, &record_type.to_string(), name]).await
            else {
                println!("note: dig is not installed; skipping the dig checks (scripts/test-deps.sh installs it)");
                return;
            };
            let lines = normalized(&out);
            assert!(lines.iter().any(|l| l.contains("status: NOERROR")), "{out}");
            assert!(lines.iter().any(|l| l.contains("flags: qr aa;")), "{out}");
            let want = expected(&running, name, record_type);
            assert_eq!(want.len(), count);
            for record in want {
                assert!(
                    lines.contains(&record),
                    "{transport} {record_type} {name}: {record:?} missing in\n{out}"
                );
            }
        }
    }
}

#[tokio::test]
async fn dig_sees_refusal_nxdomain_and_health_changes() {
    let running = start().await;
    let Some(out) = dig(running.addr(), &["A", "www.example.org."]).await else {
        println!("note: dig is not installed; skipping the dig checks (scripts/test-deps.sh installs it)");
        return;
    };
    assert!(out.contains("status: REFUSED"), "{out}");

    let out = dig(running.addr(), &["+tcp", "A", "nope.pbx.example.test."])
        .await
        .expect("dig");
    assert!(out.contains("status: NXDOMAIN"), "{out}");
    assert!(
        normalized(&out)
            .iter()
            .any(|l| l.starts_with("pbx.example.test. 5 IN SOA")),
        "{out}"
    );

    running.set_healthy("c", false);
    let out = dig(running.addr(), &["SRV", "_sip._tcp.pbx.example.test."])
        .await
        .expect("dig");
    assert!(!out.contains("c.pbx.example.test."), "{out}");
    assert!(out.contains("a.pbx.example.test."), "{out}");
    let out = dig(running.addr(), &["+short", "SOA", DOMAIN])
        .await
        .expect("dig");
    assert!(out.contains(&format!(" {} ", SERIAL_START + 1)), "{out}");
}
