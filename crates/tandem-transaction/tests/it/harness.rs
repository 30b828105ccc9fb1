//! A two-endpoint harness: layer `a` (the client side) and layer `b` (the
//! server side) exchange messages over a simulated network on virtual time.
//! Tests script the TUs by reacting to events, and choose which messages
//! the network loses.

use bytes::Bytes;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tandem_sip::builder::MessageBuilder;
use tandem_sip::{HeaderName, Message, ParseOptions};
use tandem_transaction::{Config, Event, Flow, TransactionLayer, Transmit, TransportKind};

/// One side of the harness.
pub struct Side {
    pub layer: TransactionLayer,
    pub events: Vec<(Duration, Event)>,
    pub flow_to_peer: Flow,
}

/// A delivered or lost message, for assertions.
#[derive(Debug, Clone)]
pub struct Wire {
    pub at: Duration,
    pub from_a: bool,
    pub first_line: String,
}

/// (from A?, first line, how many such messages were sent before) -> lose it?
pub type LossRule = Box<dyn FnMut(bool, &str, usize) -> bool>;

pub struct Harness {
    pub t0: Instant,
    pub now: Instant,
    pub a: Side,
    pub b: Side,
    pub wire: Vec<Wire>,
    /// Decides whether to lose a message: (from_a, first line, how many
    /// messages with that first line were sent before) -> lose?
    pub lose: LossRule,
    /// Network delay each way.
    pub delay: Duration,
    in_flight: Vec<(Instant, bool, Bytes)>,
}

#[allow(clippy::disallowed_methods)] // the one place tests read the clock: the base of virtual time
fn base_instant() -> Instant {
    Instant::now()
}

const A_ADDR: &str = "192.0.2.1:5060";
const B_ADDR: &str = "192.0.2.2:5060";

impl Harness {
    pub fn new(transport: TransportKind, config_a: Config, config_b: Config) -> Harness {
        let a: SocketAddr = A_ADDR.parse().unwrap();
        let b: SocketAddr = B_ADDR.parse().unwrap();
        let flow = |local, remote| Flow {
            transport,
            local,
            remote,
            connection: None,
        };
        let t0 = base_instant();
        Harness {
            t0,
            now: t0,
            a: Side {
                layer: TransactionLayer::new(config_a),
                events: vec![],
                flow_to_peer: flow(a, b),
            },
            b: Side {
                layer: TransactionLayer::new(config_b),
                events: vec![],
                flow_to_peer: flow(b, a),
            },
            wire: vec![],
            lose: Box::new(|_, _, _| false),
            delay: Duration::from_millis(10),
            in_flight: vec![],
        }
    }

    pub fn udp() -> Harness {
        Harness::new(TransportKind::Udp, Config::default(), Config::default())
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.t0
    }

    /// Moves transmits from both layers onto the wire.
    fn collect(&mut self) {
        for from_a in [true, false] {
            loop {
                let side = if from_a { &mut self.a } else { &mut self.b };
                let Some(Transmit { payload, .. }) = side.layer.poll_transmit() else {
                    break;
                };
                let first_line = first_line(&payload);
                let seen = self
                    .wire
                    .iter()
                    .filter(|w| w.from_a == from_a && w.first_line == first_line)
                    .count();
                let lost = (self.lose)(from_a, &first_line, seen);
                self.wire.push(Wire {
                    at: self.now - self.t0,
                    from_a,
                    first_line,
                });
                if !lost {
                    self.in_flight
                        .push((self.now + self.delay, from_a, payload));
                }
            }
        }
    }

    fn drain_events(&mut self) {
        let at = self.now - self.t0;
        while let Some(e) = self.a.layer.poll_event() {
            self.a.events.push((at, e));
        }
        while let Some(e) = self.b.layer.poll_event() {
            self.b.events.push((at, e));
        }
    }

    /// Advances virtual time to `until` (since t0), delivering messages and
    /// firing timers in order. `tu` is called after each step so the test
    /// can react to new events.
    pub fn run(&mut self, until: Duration, mut tu: impl FnMut(&mut Harness)) {
        let end = self.t0 + until;
        loop {
            self.collect();
            self.drain_events();
            tu(self);
            self.collect();
            let next_delivery = self.in_flight.iter().map(|(t, _, _)| *t).min();
            let next_timer = [self.a.layer.poll_timeout(), self.b.layer.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let next = [next_delivery, next_timer].into_iter().flatten().min();
            let Some(next) = next.filter(|n| *n <= end) else {
                self.now = end;
                break;
            };
            self.now = next.max(self.now);
            let now = self.now;
            let (due, later): (Vec<_>, Vec<_>) =
                self.in_flight.drain(..).partition(|(t, _, _)| *t <= now);
            self.in_flight = later;
            for (_, from_a, payload) in due {
                let msg = Message::parse(payload, &ParseOptions::default())
                    .expect("harness sends valid SIP");
                if from_a {
                    let flow = self.b.flow_to_peer;
                    self.b.layer.handle_message(now, msg, flow);
                } else {
                    let flow = self.a.flow_to_peer;
                    self.a.layer.handle_message(now, msg, flow);
                }
            }
            self.a.layer.handle_timeout(now);
            self.b.layer.handle_timeout(now);
        }
        self.collect();
        self.drain_events();
        tu(self);
    }

    /// Messages sent (lost or not) whose first line starts with `prefix`, by side.
    pub fn sent(&self, from_a: bool, prefix: &str) -> Vec<Duration> {
        self.wire
            .iter()
            .filter(|w| w.from_a == from_a && w.first_line.starts_with(prefix))
            .map(|w| w.at)
            .collect()
    }
}

pub fn first_line(b: &[u8]) -> String {
    let end = b.windows(2).position(|w| w == b"\r\n").unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A request from A to B with a fresh branch and Call-ID.
pub fn request(method: &str, transport: TransportKind) -> Message {
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let bytes = MessageBuilder::request(method, "sip:bob@192.0.2.2")
        .header(
            HeaderName::Via,
            &format!(
                "SIP/2.0/{} 192.0.2.1:5060;branch=z9hG4bK-test-{n}",
                transport.via_token()
            ),
        )
        .header(HeaderName::MaxForwards, "70")
        .header(
            HeaderName::From,
            &format!("<sip:alice@192.0.2.1>;tag=from{n}"),
        )
        .header(HeaderName::To, "<sip:bob@192.0.2.2>")
        .header(HeaderName::CallId, &format!("call-{n}@192.0.2.1"))
        .header(HeaderName::CSeq, &format!("1 {method}"))
        .build();
    Message::parse(bytes, &ParseOptions::default()).unwrap()
}

/// The server transaction ids of every Request event on side B, with the method.
pub fn requests(side: &Side) -> Vec<(tandem_transaction::TxId, String)> {
    side.events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Request { tx, request, .. } => {
                Some((*tx, request.method().unwrap().to_string()))
            }
            _ => None,
        })
        .collect()
}

/// Status codes of every Response event on a side, in order.
pub fn responses(side: &Side) -> Vec<u16> {
    side.events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Response { response, .. } => response.status(),
            _ => None,
        })
        .collect()
}

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}
