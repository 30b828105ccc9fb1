//! Parse, print, re-parse: any bytes may be refused, but none may panic,
//! and a message that parses and validates must print (both unedited and
//! rebuilt from its index) to bytes that parse and validate to the same
//! start line, headers and body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_sip::{Message, ParseOptions};

fn same(a: &Message, b: &Message) {
    assert_eq!(a.method(), b.method());
    assert_eq!(a.request_uri_str(), b.request_uri_str());
    assert_eq!(a.status(), b.status());
    assert_eq!(a.reason(), b.reason());
    assert!(a.headers().eq(b.headers()), "headers differ");
    assert_eq!(a.body(), b.body());
    assert_eq!(a.call_id(), b.call_id());
    assert_eq!(a.branch(), b.branch());
    assert_eq!(a.cseq(), b.cseq());
}

fuzz_target!(|data: &[u8]| {
    for lf in [false, true] {
        let opts = ParseOptions { accept_bare_lf: lf, ..ParseOptions::default() };
        let Ok(m) = Message::parse(data.to_vec(), &opts) else { continue };
        // Typed views must not panic whatever they return.
        let _ = m.vias().count();
        let _ = m.contacts().count();
        let _ = m.routes().count();
        let _ = m.from();
        let _ = m.to();
        let _ = m.request_uri();
        if m.validate().is_err() {
            continue;
        }
        let strict = ParseOptions::default();
        for printed in [m.to_bytes(), m.rebuild()] {
            let again = Message::parse(printed.clone(), if lf { &opts } else { &strict })
                .unwrap_or_else(|e| panic!("reparse failed: {e}\n{:?}", printed));
            again.validate().unwrap_or_else(|e| panic!("revalidate failed: {e}\n{:?}", printed));
            same(&m, &again);
        }
        let mut edited = m.clone();
        edited.pop_via();
        let _ = edited.decrement_max_forwards();
        edited.add_record_route("<sip:fuzz.invalid;lr>");
        let _ = Message::parse(edited.to_bytes(), &opts);
    }
});
