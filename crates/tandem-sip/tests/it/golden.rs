//! RFC 4475 §3.1.1/§3.1.2 and RFC 5118 torture messages: each valid one
//! parses, validates and round-trips; each invalid request is refused with
//! the status the RFC names; each invalid response is refused (dropped).

use crate::{assert_same, check};
use tandem_sip::{Message, ParseOptions};
use tandem_test_support::golden;

#[test]
fn every_golden_message_has_its_expected_outcome() {
    let all = golden::all();
    assert!(all.len() >= 44, "golden files missing: {}", all.len());
    let mut failures = Vec::new();
    for g in &all {
        let result = check(&g.bytes);
        match (g.is_valid(), &result) {
            (true, Ok(_)) => {}
            (true, Err(e)) => failures.push(format!("{}: valid but refused: {e}", g.name)),
            (false, Ok(_)) => failures.push(format!("{}: invalid but accepted", g.name)),
            (false, Err(e)) if g.is_response() => {
                let _ = e; // dropped: any error is right
            }
            (false, Err(e)) => {
                let want = g.expect.status.expect("invalid request has a status");
                if e.status() != want {
                    failures.push(format!(
                        "{}: answered {} ({e}), RFC says {want}",
                        g.name,
                        e.status()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "golden failures:\n{}",
        failures.join("\n")
    );
}

#[test]
fn valid_golden_messages_round_trip() {
    for g in golden::all().iter().filter(|g| g.is_valid()) {
        let first = check(&g.bytes).unwrap();
        // The unedited printer gives back exactly the message's bytes.
        let printed = first.to_bytes();
        let again = check(&printed).unwrap_or_else(|e| panic!("{}: reparse: {e}", g.name));
        assert_same(&first, &again);
        // The rebuilding printer gives an equivalent message.
        let rebuilt = first.rebuild();
        let again = check(&rebuilt).unwrap_or_else(|e| panic!("{}: rebuilt reparse: {e}", g.name));
        assert_same(&first, &again);
    }
}

#[test]
fn dblreq_ignores_the_trailing_message() {
    let g = golden::all()
        .into_iter()
        .find(|g| g.name == "rfc4475.dblreq")
        .unwrap();
    let m = check(&g.bytes).unwrap();
    assert_eq!(m.method().unwrap().as_str(), "REGISTER");
    assert!(m.body().is_empty());
    assert!(m.to_bytes().len() < g.bytes.len());
}

#[test]
fn wsinv_is_read_through_its_folding() {
    let g = golden::all()
        .into_iter()
        .find(|g| g.name == "rfc4475.wsinv")
        .unwrap();
    let m = check(&g.bytes).unwrap();
    assert_eq!(
        m.cseq().map(|(n, m)| (n, m.as_str().to_owned())),
        Some((9, "INVITE".into()))
    );
    assert_eq!(m.max_forwards(), Some(68));
    assert_eq!(m.from_tag(), Some("98asjd8"));
    assert_eq!(m.to_tag(), Some("1918181833n"));
    assert_eq!(m.branch(), Some("390skdjuw"));
    assert_eq!(m.vias().count(), 3);
    let contact = m.contacts().next().unwrap().unwrap();
    assert_eq!(contact.q_millis(), Some(330));
    assert_eq!(
        m.other_header("UnknownHeaderWithUnusualValue").next(),
        Some(&b";;,,;;,;"[..])
    );
    assert_eq!(m.body().len(), 150);
}

#[test]
fn golden_messages_never_panic_under_truncation() {
    for g in golden::all() {
        for cut in 0..g.bytes.len() {
            let _ = Message::parse(g.bytes[..cut].to_vec(), &ParseOptions::default())
                .map(|m| m.validate());
            let _ = tandem_sip::framing::check(&g.bytes[..cut], &Default::default());
        }
    }
}

#[test]
fn fuzz_regressions_keep_the_round_trip_invariant() {
    let dir = golden::testdata_dir().join("fuzz-regressions");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if let Ok(m) = check(&bytes) {
            for printed in [m.to_bytes(), m.rebuild()] {
                let again = check(&printed).unwrap_or_else(|e| panic!("{path:?}: {e}"));
                assert_same(&m, &again);
            }
        }
    }
}

#[test]
fn bare_cr_inside_a_line_is_refused() {
    let e = check(b"OPTIONS sip:a@b SIP/2.0\r\nSubject: a\rInjected: b\r\n\r\n").unwrap_err();
    assert_eq!(e, tandem_sip::Error::BareCr { line: 2 });
}
