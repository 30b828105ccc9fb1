//! A webhook's bounded queue: one producer side that never waits (`push`
//! is synchronous; when the queue is full the oldest entry is pushed out
//! and handed back to be counted), one consumer task that waits for work.
//! Closing lets the consumer drain what is left, then tells it to stop.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// What became of a pushed entry.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed<T> {
    /// Queued; nothing was lost.
    Queued,
    /// Queued, and the oldest entry was pushed out to make room.
    Displaced(T),
    /// Not queued: the queue is closed.
    Closed(T),
}

/// A bounded FIFO that drops its oldest entry when full.
#[derive(Debug)]
pub(crate) struct Queue<T> {
    state: Mutex<State<T>>,
    ready: Notify,
    cap: usize,
}

#[derive(Debug)]
struct State<T> {
    items: VecDeque<T>,
    closed: bool,
}

impl<T> Queue<T> {
    /// An empty queue holding at most `cap` entries (at least one).
    pub(crate) fn new(cap: usize) -> Queue<T> {
        let cap = cap.max(1);
        Queue {
            state: Mutex::new(State {
                items: VecDeque::with_capacity(cap.min(1024)),
                closed: false,
            }),
            ready: Notify::new(),
            cap,
        }
    }

    fn state(&self) -> MutexGuard<'_, State<T>> {
        // The lock is held only for plain VecDeque operations, which do
        // not panic midway: a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends `item` without ever waiting.
    pub(crate) fn push(&self, item: T) -> Pushed<T> {
        let pushed = {
            let mut state = self.state();
            if state.closed {
                return Pushed::Closed(item);
            }
            let displaced = if state.items.len() >= self.cap {
                state.items.pop_front()
            } else {
                None
            };
            state.items.push_back(item);
            displaced.map_or(Pushed::Queued, Pushed::Displaced)
        };
        // One consumer: a stored permit wakes it even if it is not
        // waiting yet.
        self.ready.notify_one();
        pushed
    }

    /// The oldest entry, waiting for one; `None` once the queue is closed
    /// and empty.
    pub(crate) async fn pop(&self) -> Option<T> {
        loop {
            {
                let mut state = self.state();
                if let Some(item) = state.items.pop_front() {
                    return Some(item);
                }
                if state.closed {
                    return None;
                }
            }
            self.ready.notified().await;
        }
    }

    /// Refuses further pushes; `pop` drains what is left, then ends.
    pub(crate) fn close(&self) {
        self.state().closed = true;
        self.ready.notify_one();
    }

    /// How many entries wait.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.state().items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fifo_and_drop_oldest_when_full() {
        let q = Queue::new(3);
        for i in 0..3 {
            assert_eq!(q.push(i), Pushed::Queued);
        }
        assert_eq!(q.push(3), Pushed::Displaced(0));
        assert_eq!(q.push(4), Pushed::Displaced(1));
        assert_eq!(q.len(), 3);
        assert_eq!(q.pop().await, Some(2));
        assert_eq!(q.pop().await, Some(3));
        assert_eq!(q.pop().await, Some(4));
    }

    #[tokio::test]
    async fn close_drains_then_ends() {
        let q = Queue::new(4);
        q.push(1);
        q.push(2);
        q.close();
        assert_eq!(q.push(3), Pushed::Closed(3));
        assert_eq!(q.pop().await, Some(1));
        assert_eq!(q.pop().await, Some(2));
        assert_eq!(q.pop().await, None);
    }

    #[tokio::test]
    async fn pop_waits_for_a_push_from_another_task() {
        let q = std::sync::Arc::new(Queue::new(1));
        let consumer = tokio::spawn({
            let q = q.clone();
            async move { (q.pop().await, q.pop().await) }
        });
        tokio::task::yield_now().await;
        q.push("a");
        tokio::task::yield_now().await;
        q.close();
        assert_eq!(consumer.await.unwrap(), (Some("a"), None));
    }
}
