//! Client transactions: INVITE (RFC 3261 §17.1.1 with the Accepted state of
//! RFC 6026 §7.2) and non-INVITE (§17.1.2). Each is a state machine fed
//! responses, timer expiries and transport errors; what it wants sent or
//! told to the TU goes into the [`Ctx`].

use crate::layer::Ctx;
use crate::timer::{Deadlines, TimerKind};
use crate::{Event, Flow};
use bytes::Bytes;
use std::time::Duration;
use tandem_sip::builder::MessageBuilder;
use tandem_sip::{HeaderName, Message};

/// States of a client INVITE transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientInviteState {
    /// INVITE sent, no response yet.
    Calling,
    /// A provisional response arrived.
    Proceeding,
    /// A final non-2xx arrived and was acknowledged.
    Completed,
    /// A 2xx arrived; further 2xx are passed up (RFC 6026).
    Accepted,
    /// Done.
    Terminated,
}

/// States of a client non-INVITE transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientNonInviteState {
    /// Request sent, no response yet.
    Trying,
    /// A provisional response arrived.
    Proceeding,
    /// A final response arrived.
    Completed,
    /// Done.
    Terminated,
}

/// A client INVITE transaction.
#[derive(Debug)]
pub(crate) struct ClientInvite {
    pub(crate) state: ClientInviteState,
    pub(crate) request: Message,
    bytes: Bytes,
    pub(crate) flow: Flow,
    interval: Duration,
    pub(crate) deadlines: Deadlines,
    ack: Option<Bytes>,
    /// The TU asked to cancel before any provisional response arrived
    /// (RFC 3261 §9.1: the CANCEL waits for one).
    pub(crate) cancel_pending: bool,
}

/// What a client transaction asks of the layer after handling an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientOutcome {
    Continue,
    /// Send the pending CANCEL now.
    SendCancel,
    Terminated,
}

impl ClientInvite {
    pub(crate) fn start(ctx: &mut Ctx<'_>, request: Message, flow: Flow) -> ClientInvite {
        let bytes = request.to_bytes();
        ctx.send(flow, bytes.clone());
        let mut tx = ClientInvite {
            state: ClientInviteState::Calling,
            request,
            bytes,
            flow,
            interval: ctx.config.t1,
            deadlines: Deadlines::default(),
            ack: None,
            cancel_pending: false,
        };
        if !flow.transport.is_reliable() {
            ctx.start(&mut tx.deadlines, TimerKind::A, ctx.config.t1);
        }
        ctx.start(&mut tx.deadlines, TimerKind::B, ctx.config.t1x64());
        tx
    }

    pub(crate) fn on_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        response: Message,
        flow: Flow,
    ) -> ClientOutcome {
        let code = response.status().unwrap_or(0);
        match (self.state, code) {
            (ClientInviteState::Calling | ClientInviteState::Proceeding, 100..=199) => {
                self.state = ClientInviteState::Proceeding;
                self.deadlines.stop(TimerKind::A);
                self.deadlines.stop(TimerKind::B);
                ctx.emit(Event::Response {
                    tx: ctx.id,
                    response,
                    flow,
                });
                if std::mem::take(&mut self.cancel_pending) {
                    return ClientOutcome::SendCancel;
                }
                ClientOutcome::Continue
            }
            (ClientInviteState::Calling | ClientInviteState::Proceeding, 200..=299) => {
                self.state = ClientInviteState::Accepted;
                self.cancel_pending = false;
                self.deadlines.stop(TimerKind::A);
                self.deadlines.stop(TimerKind::B);
                ctx.start(&mut self.deadlines, TimerKind::M, ctx.config.t1x64());
                ctx.emit(Event::Response {
                    tx: ctx.id,
                    response,
                    flow,
                });
                ClientOutcome::Continue
            }
            (ClientInviteState::Accepted, 200..=299) => {
                // A retransmitted or forked 2xx: the TU (a proxy) forwards it.
                ctx.emit(Event::Response {
                    tx: ctx.id,
                    response,
                    flow,
                });
                ClientOutcome::Continue
            }
            (ClientInviteState::Calling | ClientInviteState::Proceeding, 300..=699) => {
                self.state = ClientInviteState::Completed;
                self.cancel_pending = false;
                self.deadlines.stop(TimerKind::A);
                self.deadlines.stop(TimerKind::B);
                let ack = build_ack(&self.request, &response);
                ctx.send(self.flow, ack.clone());
                self.ack = Some(ack);
                ctx.emit(Event::Response {
                    tx: ctx.id,
                    response,
                    flow,
                });
                let d = ctx.config.timer_d(self.flow.transport.is_reliable());
                if d.is_zero() {
                    self.state = ClientInviteState::Terminated;
                    return ClientOutcome::Terminated;
                }
                ctx.start(&mut self.deadlines, TimerKind::D, d);
                ClientOutcome::Continue
            }
            (ClientInviteState::Completed, 300..=699) => {
                // The final response again: our ACK was lost. Send it again.
                if let Some(ack) = &self.ack {
                    ctx.send(self.flow, ack.clone());
                }
                ClientOutcome::Continue
            }
            _ => ClientOutcome::Continue,
        }
    }

    pub(crate) fn on_timer(&mut self, ctx: &mut Ctx<'_>, kind: TimerKind) -> ClientOutcome {
        match (self.state, kind) {
            (ClientInviteState::Calling, TimerKind::A) => {
                ctx.send(self.flow, self.bytes.clone());
                self.interval *= 2;
                ctx.start(&mut self.deadlines, TimerKind::A, self.interval);
                ClientOutcome::Continue
            }
            (ClientInviteState::Calling, TimerKind::B) => {
                self.state = ClientInviteState::Terminated;
                ctx.emit(Event::Timeout { tx: ctx.id });
                ClientOutcome::Terminated
            }
            (ClientInviteState::Completed, TimerKind::D)
            | (ClientInviteState::Accepted, TimerKind::M) => {
                self.state = ClientInviteState::Terminated;
                ClientOutcome::Terminated
            }
            _ => ClientOutcome::Continue,
        }
    }
}

/// The ACK a client INVITE transaction sends for a non-2xx final response
/// (RFC 3261 §17.1.1.3): same Request-URI, top Via and Route set as the
/// INVITE, the response's To (with its tag), CSeq method ACK.
pub(crate) fn build_ack(invite: &Message, response: &Message) -> Bytes {
    let mut b = MessageBuilder::request("ACK", invite.request_uri_str().unwrap_or(""));
    if let Some(via) = invite.headers().find(|h| h.name == HeaderName::Via) {
        let first = first_element(via.value);
        b = b.header_bytes("Via", first);
    }
    for h in invite.headers().filter(|h| h.name == HeaderName::Route) {
        b = b.header_bytes("Route", h.value);
    }
    b = b.header(HeaderName::MaxForwards, "70");
    for (name, src) in [("From", invite), ("To", response), ("Call-ID", invite)] {
        let wanted = HeaderName::from_bytes(name.as_bytes());
        if let Some(h) = src.headers().find(|h| h.name == wanted) {
            b = b.header_bytes(name, h.value);
        }
    }
    let seq = invite.cseq().map(|(n, _)| n).unwrap_or(0);
    b.header(HeaderName::CSeq, &format!("{seq} ACK")).build()
}

/// The CANCEL for an INVITE (RFC 3261 §9.1): same Request-URI, Call-ID,
/// To, From, CSeq number and top Via (so the same branch), same Route set.
pub(crate) fn build_cancel(invite: &Message) -> Bytes {
    let mut b = MessageBuilder::request("CANCEL", invite.request_uri_str().unwrap_or(""));
    if let Some(via) = invite.headers().find(|h| h.name == HeaderName::Via) {
        b = b.header_bytes("Via", first_element(via.value));
    }
    for h in invite.headers().filter(|h| h.name == HeaderName::Route) {
        b = b.header_bytes("Route", h.value);
    }
    b = b.header(HeaderName::MaxForwards, "70");
    for name in ["From", "To", "Call-ID"] {
        let wanted = HeaderName::from_bytes(name.as_bytes());
        if let Some(h) = invite.headers().find(|h| h.name == wanted) {
            b = b.header_bytes(name, h.value);
        }
    }
    let seq = invite.cseq().map(|(n, _)| n).unwrap_or(0);
    b.header(HeaderName::CSeq, &format!("{seq} CANCEL")).build()
}

/// The first element of a comma-separated Via value.
fn first_element(v: &[u8]) -> &[u8] {
    let mut in_quote = false;
    for (i, &c) in v.iter().enumerate() {
        match c {
            b'"' => in_quote = !in_quote,
            b',' if !in_quote => return v[..i].trim_ascii_end(),
            _ => {}
        }
    }
    v
}

/// A client non-INVITE transaction.
#[derive(Debug)]
pub(crate) struct ClientNonInvite {
    pub(crate) state: ClientNonInviteState,
    bytes: Bytes,
    pub(crate) flow: Flow,
    interval: Duration,
    pub(crate) deadlines: Deadlines,
}

impl ClientNonInvite {
    pub(crate) fn start(ctx: &mut Ctx<'_>, bytes: Bytes, flow: Flow) -> ClientNonInvite {
        ctx.send(flow, bytes.clone());
        let mut tx = ClientNonInvite {
            state: ClientNonInviteState::Trying,
            bytes,
            flow,
            interval: ctx.config.t1,
            deadlines: Deadlines::default(),
        };
        if !flow.transport.is_reliable() {
            ctx.start(&mut tx.deadlines, TimerKind::E, ctx.config.t1);
        }
        ctx.start(&mut tx.deadlines, TimerKind::F, ctx.config.t1x64());
        tx
    }

    pub(crate) fn on_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        response: Message,
        flow: Flow,
    ) -> ClientOutcome {
        let code = response.status().unwrap_or(0);
        match (self.state, code) {
            (ClientNonInviteState::Trying | ClientNonInviteState::Proceeding, 100..=199) => {
                self.state = ClientNonInviteState::Proceeding;
                ctx.emit(Event::Response {
                    tx: ctx.id,
                    response,
                    flow,
                });
                ClientOutcome::Continue
            }
            (ClientNonInviteState::Trying | ClientNonInviteState::Proceeding, 200..=699) => {
                self.state = ClientNonInviteState::Completed;
                self.deadlines.stop(TimerKind::E);
                self.deadlines.stop(TimerKind::F);
                ctx.emit(Event::Response {
                    tx: ctx.id,
                    response,
                    flow,
                });
                if self.flow.transport.is_reliable() {
                    self.state = ClientNonInviteState::Terminated;
                    return ClientOutcome::Terminated;
                }
                ctx.start(&mut self.deadlines, TimerKind::K, ctx.config.t4);
                ClientOutcome::Continue
            }
            _ => ClientOutcome::Continue,
        }
    }

    pub(crate) fn on_timer(&mut self, ctx: &mut Ctx<'_>, kind: TimerKind) -> ClientOutcome {
        match (self.state, kind) {
            (ClientNonInviteState::Trying | ClientNonInviteState::Proceeding, TimerKind::E) => {
                ctx.send(self.flow, self.bytes.clone());
                self.interval = if self.state == ClientNonInviteState::Trying {
                    (self.interval * 2).min(ctx.config.t2)
                } else {
                    ctx.config.t2
                };
                ctx.start(&mut self.deadlines, TimerKind::E, self.interval);
                ClientOutcome::Continue
            }
            (ClientNonInviteState::Trying | ClientNonInviteState::Proceeding, TimerKind::F) => {
                self.state = ClientNonInviteState::Terminated;
                ctx.emit(Event::Timeout { tx: ctx.id });
                ClientOutcome::Terminated
            }
            (ClientNonInviteState::Completed, TimerKind::K) => {
                self.state = ClientNonInviteState::Terminated;
                ClientOutcome::Terminated
            }
            _ => ClientOutcome::Continue,
        }
    }
}
