#![allow(missing_docs)]
//! Parser benchmark: tandem-sip against rsipstack and ezk-sip-types on the
//! same three messages, (a) index only and (b) index plus the
//! transaction-critical headers (top Via branch, CSeq, Call-ID, From/To
//! tags, Max-Forwards). Run: `cargo bench -p parse-compare --bench parse`.

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use tandem_sip::{Message, ParseOptions};
use tandem_test_support::samples;

const MESSAGES: [(&str, &[u8]); 3] = [
    ("invite", samples::INVITE),
    ("register", samples::REGISTER),
    ("200ok", samples::OK_200),
];

mod rsipstack_parse {
    use rsipstack::sip::prelude::*;
    use rsipstack::sip::SipMessage;

    pub(crate) fn index(b: &[u8]) -> SipMessage {
        rsipstack::sip::parser::parse_message(b).unwrap()
    }

    /// Index, then type what transaction matching needs.
    pub(crate) fn critical(b: &[u8]) -> usize {
        let m = index(b);
        let (via, cseq, call_id, from, to) = match &m {
            SipMessage::Request(r) => (
                r.via_header().unwrap().typed().unwrap(),
                r.cseq_header().unwrap(),
                r.call_id_header().unwrap().value().len(),
                r.from_header().unwrap().tag().unwrap(),
                r.to_header().unwrap().tag().unwrap(),
            ),
            SipMessage::Response(r) => (
                r.via_header().unwrap().typed().unwrap(),
                r.cseq_header().unwrap(),
                r.call_id_header().unwrap().value().len(),
                r.from_header().unwrap().tag().unwrap(),
                r.to_header().unwrap().tag().unwrap(),
            ),
        };
        let seq = cseq.seq().unwrap() as usize;
        let _ = cseq.method().unwrap();
        let mf = match &m {
            SipMessage::Request(r) => r
                .max_forwards_header()
                .map(|h| h.value().trim().parse::<usize>().unwrap_or(0))
                .unwrap_or(0),
            SipMessage::Response(_) => 0,
        };
        via.branch().map(|b| b.to_string().len()).unwrap_or(0)
            + seq
            + call_id
            + from.map(|t| t.value().len()).unwrap_or(0)
            + to.map(|t| t.value().len()).unwrap_or(0)
            + mf
    }
}

mod ezk_parse {
    use bytes::Bytes;
    use bytesstr::BytesStr;
    use ezk_sip_types::header::typed::{CSeq, CallID, FromTo, MaxForwards, Via};
    use ezk_sip_types::msg::{Line, MessageLine, PullParser};
    use ezk_sip_types::parse::Parse;
    use ezk_sip_types::{Headers, Name};

    /// Decodes a datagram the way ezk-sip-core does: pull lines, parse the
    /// start line, insert each header line into `Headers`.
    pub(crate) fn index(b: &Bytes) -> (MessageLine, Headers) {
        let mut parser = PullParser::new(b, 0);
        let first = std::str::from_utf8(parser.next().unwrap().unwrap()).unwrap();
        let (_, line) = MessageLine::parse(b)(first).unwrap();
        let mut headers = Headers::with_capacity(16);
        for l in parser.by_ref() {
            let l = std::str::from_utf8(l.unwrap()).unwrap();
            let (_, h) = Line::parse(b, l).unwrap();
            headers.insert(h.name, h.value);
        }
        (line, headers)
    }

    pub(crate) fn critical(b: &Bytes) -> usize {
        let (_, h) = index(b);
        let via: Via = h.get_named().unwrap();
        let cseq: CSeq = h.get_named().unwrap();
        let call_id: CallID = h.get_named().unwrap();
        let from: FromTo = h.get(Name::FROM).unwrap();
        let to: FromTo = h.get(Name::TO).unwrap();
        let mf = h
            .get_named::<MaxForwards>()
            .map(|m| m.0 as usize)
            .unwrap_or(0);
        let branch = via
            .params
            .get_val("branch")
            .map(|b: &BytesStr| b.len())
            .unwrap_or(0);
        branch
            + cseq.cseq as usize
            + call_id.0.len()
            + from.tag.map(|t| t.len()).unwrap_or(0)
            + to.tag.map(|t| t.len()).unwrap_or(0)
            + mf
    }
}

fn tandem_critical(m: &Message) -> usize {
    m.branch().map(str::len).unwrap_or(0)
        + m.cseq().map(|(n, _)| n as usize).unwrap_or(0)
        + m.call_id().map(str::len).unwrap_or(0)
        + m.from_tag().map(str::len).unwrap_or(0)
        + m.to_tag().map(str::len).unwrap_or(0)
        + m.max_forwards().map(usize::from).unwrap_or(0)
}

fn bench(c: &mut Criterion) {
    let opts = ParseOptions::default();
    for (name, msg) in MESSAGES {
        let bytes = Bytes::from_static(msg);
        // Sanity: all three read the same message the same way.
        let t = Message::parse(bytes.clone(), &opts).unwrap();
        assert_eq!(tandem_critical(&t) > 0, ezk_parse::critical(&bytes) > 0);

        let mut g = c.benchmark_group(format!("index/{name}"));
        g.bench_function("tandem", |b| {
            b.iter(|| Message::index(black_box(bytes.clone()), &opts).unwrap())
        });
        g.bench_function("rsipstack", |b| {
            b.iter(|| rsipstack_parse::index(black_box(msg)))
        });
        g.bench_function("ezk-sip-types", |b| {
            b.iter(|| ezk_parse::index(black_box(&bytes)))
        });
        g.finish();

        let mut g = c.benchmark_group(format!("critical/{name}"));
        g.bench_function("tandem", |b| {
            b.iter(|| tandem_critical(&Message::parse(black_box(bytes.clone()), &opts).unwrap()))
        });
        g.bench_function("rsipstack", |b| {
            b.iter(|| rsipstack_parse::critical(black_box(msg)))
        });
        g.bench_function("ezk-sip-types", |b| {
            b.iter(|| ezk_parse::critical(black_box(&bytes)))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
