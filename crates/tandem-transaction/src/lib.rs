//! # tandem-transaction: RFC 3261 transactions on injected time
//!
//! Client and server transactions, INVITE and non-INVITE (RFC 3261 §17,
//! with the Accepted states of RFC 6026), as pure state machines. The
//! [`TransactionLayer`] is fed messages and the current time, and says what
//! to send ([`Transmit`]), what happened ([`Event`]) and when to wake it up
//! ([`TransactionLayer::poll_timeout`]). It never reads a clock, opens a
//! socket or draws a random number, so it runs the same on virtual time in
//! tests and in the simulator as under tokio.

mod client;
mod config;
mod error;
mod flow;
mod key;
mod layer;
mod server;
mod timer;

pub use client::{ClientInviteState, ClientNonInviteState};
pub use config::Config;
pub use error::Error;
pub use flow::{response_flow, ConnectionId, Flow, Transmit, TransportKind};
pub use key::MAGIC_COOKIE;
pub use layer::{Stats, TransactionLayer};
pub use server::{ServerInviteState, ServerNonInviteState};
pub use timer::TimerKind;

use tandem_sip::Message;

/// A transaction's identity within its layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxId(pub u64);

/// What the layer tells its transaction user.
#[derive(Debug)]
pub enum Event {
    /// A new request created server transaction `tx`; answer it with
    /// [`TransactionLayer::respond`]. For a CANCEL, `cancels` names the
    /// INVITE server transaction it matches, if any (RFC 3261 §9.2).
    Request {
        /// The new server transaction.
        tx: TxId,
        /// The request.
        request: Message,
        /// Where it came from.
        flow: Flow,
        /// For a CANCEL: the matching INVITE server transaction.
        cancels: Option<TxId>,
    },
    /// An ACK that matches no server transaction: the ACK of a 2xx (RFC 3261
    /// §17.1.1.3). A proxy forwards it; a UAS completes its dialog.
    Ack {
        /// The ACK.
        request: Message,
        /// Where it came from.
        flow: Flow,
    },
    /// A response for client transaction `tx`: provisional, final, or a 2xx
    /// retransmission in the Accepted state (RFC 6026).
    Response {
        /// The client transaction.
        tx: TxId,
        /// The response.
        response: Message,
        /// Where it came from.
        flow: Flow,
    },
    /// A response no client transaction knows (RFC 3261 §18.1.2): a proxy
    /// forwards it statelessly by its Via.
    StrayResponse {
        /// The response.
        response: Message,
        /// Where it came from.
        flow: Flow,
    },
    /// Client transaction `tx` got no final response in time (Timer B or F):
    /// the TU acts as if a 408 arrived (RFC 3261 §17.1.1.2, §17.1.2.2).
    Timeout {
        /// The client transaction.
        tx: TxId,
    },
    /// The transport failed for client transaction `tx` (RFC 3261 §17.1.4).
    TransportError {
        /// The client transaction.
        tx: TxId,
    },
    /// Server INVITE transaction `tx` sent a non-2xx final and never got
    /// its ACK (Timer H, RFC 3261 §17.2.1).
    AckTimeout {
        /// The server transaction.
        tx: TxId,
    },
    /// Transaction `tx` ended and is forgotten.
    Terminated {
        /// The transaction.
        tx: TxId,
    },
}
