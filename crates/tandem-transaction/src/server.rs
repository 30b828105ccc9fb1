//! Server transactions: INVITE (RFC 3261 §17.2.1 with the Accepted state of
//! RFC 6026 §7.1) and non-INVITE (§17.2.2). They absorb retransmitted
//! requests (answering with the last response), retransmit final INVITE
//! responses over UDP until the ACK, and say 100 Trying when the TU is slow.

use crate::layer::Ctx;
use crate::timer::{Deadlines, TimerKind};
use crate::{Event, Flow};
use bytes::Bytes;
use std::time::Duration;
use tandem_sip::builder::MessageBuilder;
use tandem_sip::Message;

/// States of a server INVITE transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerInviteState {
    /// Waiting for the TU's final response.
    Proceeding,
    /// A non-2xx final response was sent; waiting for the ACK.
    Completed,
    /// The ACK arrived; absorbing its retransmissions.
    Confirmed,
    /// A 2xx was sent; absorbing INVITE retransmissions (RFC 6026).
    Accepted,
    /// Done.
    Terminated,
}

/// States of a server non-INVITE transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerNonInviteState {
    /// Waiting for the TU.
    Trying,
    /// A provisional response was sent.
    Proceeding,
    /// A final response was sent.
    Completed,
    /// Done.
    Terminated,
}

/// What a server transaction asks of the layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerOutcome {
    Continue,
    Terminated,
}

/// Why the TU's response was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RespondRefusal {
    /// A final response was already sent (a 2xx may be sent again in Accepted).
    AlreadyFinal,
}

/// A server INVITE transaction.
#[derive(Debug)]
pub(crate) struct ServerInvite {
    pub(crate) state: ServerInviteState,
    pub(crate) request: Message,
    /// Where responses go (RFC 3261 §18.2.2).
    pub(crate) reply_flow: Flow,
    last_response: Option<Bytes>,
    interval: Duration,
    pub(crate) deadlines: Deadlines,
}

impl ServerInvite {
    pub(crate) fn start(ctx: &mut Ctx<'_>, request: Message, reply_flow: Flow) -> ServerInvite {
        let mut tx = ServerInvite {
            state: ServerInviteState::Proceeding,
            request,
            reply_flow,
            last_response: None,
            interval: ctx.config.t1,
            deadlines: Deadlines::default(),
        };
        if ctx.config.trying_delay.is_zero() {
            tx.send_trying(ctx);
        } else {
            ctx.start(
                &mut tx.deadlines,
                TimerKind::Trying,
                ctx.config.trying_delay,
            );
        }
        tx
    }

    fn send_trying(&mut self, ctx: &mut Ctx<'_>) {
        let trying = MessageBuilder::response(&self.request, 100, None, None).build();
        ctx.send(self.reply_flow, trying.clone());
        self.last_response = Some(trying);
    }

    /// A retransmission of the INVITE, or its ACK.
    pub(crate) fn on_request(&mut self, ctx: &mut Ctx<'_>, is_ack: bool) -> ServerOutcome {
        match (self.state, is_ack) {
            (ServerInviteState::Proceeding | ServerInviteState::Completed, false) => {
                if let Some(r) = &self.last_response {
                    ctx.send(self.reply_flow, r.clone());
                }
                ServerOutcome::Continue
            }
            (ServerInviteState::Completed, true) => {
                self.state = ServerInviteState::Confirmed;
                self.deadlines.stop(TimerKind::G);
                self.deadlines.stop(TimerKind::H);
                if self.reply_flow.transport.is_reliable() {
                    self.state = ServerInviteState::Terminated;
                    return ServerOutcome::Terminated;
                }
                ctx.start(&mut self.deadlines, TimerKind::I, ctx.config.t4);
                ServerOutcome::Continue
            }
            // Accepted absorbs INVITE retransmissions (the TU retransmits
            // the 2xx); Confirmed absorbs ACK retransmissions.
            _ => ServerOutcome::Continue,
        }
    }

    pub(crate) fn respond(
        &mut self,
        ctx: &mut Ctx<'_>,
        code: u16,
        bytes: Bytes,
    ) -> Result<ServerOutcome, RespondRefusal> {
        match (self.state, code) {
            (ServerInviteState::Proceeding, 100..=199) => {
                self.deadlines.stop(TimerKind::Trying);
                ctx.send(self.reply_flow, bytes.clone());
                self.last_response = Some(bytes);
                Ok(ServerOutcome::Continue)
            }
            (ServerInviteState::Proceeding | ServerInviteState::Accepted, 200..=299) => {
                self.deadlines.stop(TimerKind::Trying);
                ctx.send(self.reply_flow, bytes);
                if self.state == ServerInviteState::Proceeding {
                    self.state = ServerInviteState::Accepted;
                    ctx.start(&mut self.deadlines, TimerKind::L, ctx.config.t1x64());
                }
                Ok(ServerOutcome::Continue)
            }
            (ServerInviteState::Proceeding, 300..=699) => {
                self.deadlines.stop(TimerKind::Trying);
                self.state = ServerInviteState::Completed;
                ctx.send(self.reply_flow, bytes.clone());
                self.last_response = Some(bytes);
                if !self.reply_flow.transport.is_reliable() {
                    ctx.start(&mut self.deadlines, TimerKind::G, self.interval);
                }
                ctx.start(&mut self.deadlines, TimerKind::H, ctx.config.t1x64());
                Ok(ServerOutcome::Continue)
            }
            _ => Err(RespondRefusal::AlreadyFinal),
        }
    }

    pub(crate) fn on_timer(&mut self, ctx: &mut Ctx<'_>, kind: TimerKind) -> ServerOutcome {
        match (self.state, kind) {
            (ServerInviteState::Proceeding, TimerKind::Trying) => {
                if self.last_response.is_none() {
                    self.send_trying(ctx);
                }
                ServerOutcome::Continue
            }
            (ServerInviteState::Completed, TimerKind::G) => {
                if let Some(r) = &self.last_response {
                    ctx.send(self.reply_flow, r.clone());
                }
                self.interval = (self.interval * 2).min(ctx.config.t2);
                ctx.start(&mut self.deadlines, TimerKind::G, self.interval);
                ServerOutcome::Continue
            }
            (ServerInviteState::Completed, TimerKind::H) => {
                self.state = ServerInviteState::Terminated;
                ctx.emit(Event::AckTimeout { tx: ctx.id });
                ServerOutcome::Terminated
            }
            (ServerInviteState::Confirmed, TimerKind::I)
            | (ServerInviteState::Accepted, TimerKind::L) => {
                self.state = ServerInviteState::Terminated;
                ServerOutcome::Terminated
            }
            _ => ServerOutcome::Continue,
        }
    }
}

/// A server non-INVITE transaction.
#[derive(Debug)]
pub(crate) struct ServerNonInvite {
    pub(crate) state: ServerNonInviteState,
    pub(crate) request: Message,
    pub(crate) reply_flow: Flow,
    last_response: Option<Bytes>,
    pub(crate) deadlines: Deadlines,
}

impl ServerNonInvite {
    pub(crate) fn start(request: Message, reply_flow: Flow) -> ServerNonInvite {
        ServerNonInvite {
            state: ServerNonInviteState::Trying,
            request,
            reply_flow,
            last_response: None,
            deadlines: Deadlines::default(),
        }
    }

    /// A retransmission of the request.
    pub(crate) fn on_request(&mut self, ctx: &mut Ctx<'_>) -> ServerOutcome {
        if let (ServerNonInviteState::Proceeding | ServerNonInviteState::Completed, Some(r)) =
            (self.state, &self.last_response)
        {
            ctx.send(self.reply_flow, r.clone());
        }
        ServerOutcome::Continue
    }

    pub(crate) fn respond(
        &mut self,
        ctx: &mut Ctx<'_>,
        code: u16,
        bytes: Bytes,
    ) -> Result<ServerOutcome, RespondRefusal> {
        match (self.state, code) {
            (ServerNonInviteState::Trying | ServerNonInviteState::Proceeding, 100..=199) => {
                self.state = ServerNonInviteState::Proceeding;
                ctx.send(self.reply_flow, bytes.clone());
                self.last_response = Some(bytes);
                Ok(ServerOutcome::Continue)
            }
            (ServerNonInviteState::Trying | ServerNonInviteState::Proceeding, 200..=699) => {
                self.state = ServerNonInviteState::Completed;
                ctx.send(self.reply_flow, bytes.clone());
                self.last_response = Some(bytes);
                if self.reply_flow.transport.is_reliable() {
                    self.state = ServerNonInviteState::Terminated;
                    return Ok(ServerOutcome::Terminated);
                }
                ctx.start(&mut self.deadlines, TimerKind::J, ctx.config.t1x64());
                Ok(ServerOutcome::Continue)
            }
            _ => Err(RespondRefusal::AlreadyFinal),
        }
    }

    pub(crate) fn on_timer(&mut self, _ctx: &mut Ctx<'_>, kind: TimerKind) -> ServerOutcome {
        match (self.state, kind) {
            (ServerNonInviteState::Completed, TimerKind::J) => {
                self.state = ServerNonInviteState::Terminated;
                ServerOutcome::Terminated
            }
            _ => ServerOutcome::Continue,
        }
    }
}
