//! Timers as data (RFC 3261 §17, table 4; RFC 6026 Timers L and M): each
//! transaction keeps the deadline of each timer it runs, and the layer keeps
//! one queue of (deadline, transaction, timer) ordered by time. Stale queue
//! entries (a timer that was reset or stopped) are skipped when they come up.

use crate::TxId;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// The named timers of RFC 3261 §17 and RFC 6026, plus the 100 Trying delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKind {
    /// Client INVITE retransmission (UDP).
    A,
    /// Client INVITE timeout.
    B,
    /// Client INVITE wait in Completed for response retransmissions.
    D,
    /// Client non-INVITE retransmission (UDP).
    E,
    /// Client non-INVITE timeout.
    F,
    /// Server INVITE final response retransmission (UDP).
    G,
    /// Server INVITE wait for ACK.
    H,
    /// Server INVITE wait in Confirmed for ACK retransmissions.
    I,
    /// Server non-INVITE wait in Completed for request retransmissions.
    J,
    /// Client non-INVITE wait in Completed for response retransmissions.
    K,
    /// Server INVITE wait in Accepted (RFC 6026).
    L,
    /// Client INVITE wait in Accepted (RFC 6026).
    M,
    /// Server INVITE: send 100 Trying if the TU has not answered (RFC 3261 §17.2.1).
    Trying,
}

/// The layer's queue of pending timers.
#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<(Instant, TxId, TimerKind)>>,
}

impl TimerQueue {
    pub(crate) fn schedule(&mut self, at: Instant, tx: TxId, kind: TimerKind) {
        self.heap.push(Reverse((at, tx, kind)));
    }

    /// The earliest queued deadline (possibly stale).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Removes and returns the earliest entry due at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, TxId, TimerKind)> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

/// The deadlines a transaction currently runs, one slot per timer kind it uses.
#[derive(Debug, Default, Clone)]
pub(crate) struct Deadlines {
    slots: Vec<(TimerKind, Instant)>,
}

impl Deadlines {
    /// Sets (or resets) a timer; the caller also queues it.
    pub(crate) fn set(&mut self, kind: TimerKind, at: Instant) {
        match self.slots.iter_mut().find(|(k, _)| *k == kind) {
            Some(slot) => slot.1 = at,
            None => self.slots.push((kind, at)),
        }
    }

    pub(crate) fn stop(&mut self, kind: TimerKind) {
        self.slots.retain(|(k, _)| *k != kind);
    }

    /// Whether a queued entry is still the live deadline of its timer.
    pub(crate) fn is_live(&self, kind: TimerKind, at: Instant) -> bool {
        self.slots.iter().any(|(k, t)| *k == kind && *t == at)
    }
}
