//! Targets that just failed, set aside for a while (RFC 3263 §4.3: on a
//! transport error, a 503 or a timeout the next target is tried). Pure:
//! the time is passed in.
//!
//! A quarantined target is not dropped: [`Quarantine::order`] moves it
//! behind the others, so when every target failed they are all still
//! tried, in their order. The table is bounded: past
//! [`Quarantine::MAX_ENTRIES`] the entry closest to its end is forgotten.

use crate::{Target, Transport};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Failed targets and when each may be tried first again.
#[derive(Debug, Clone)]
pub struct Quarantine {
    hold: Duration,
    until: HashMap<(Transport, SocketAddr), Instant>,
}

impl Quarantine {
    /// Most targets remembered at once.
    pub const MAX_ENTRIES: usize = 4096;

    /// A quarantine that holds a failed target back for `hold`.
    pub fn new(hold: Duration) -> Self {
        Quarantine {
            hold,
            until: HashMap::new(),
        }
    }

    /// `target` failed at `now`: hold it back until `now + hold`.
    pub fn fail(&mut self, target: &Target, now: Instant) {
        self.until.retain(|_, until| *until > now);
        if self.until.len() >= Self::MAX_ENTRIES {
            let soonest = self
                .until
                .iter()
                .min_by_key(|(_, until)| **until)
                .map(|(k, _)| *k);
            if let Some(key) = soonest {
                self.until.remove(&key);
            }
        }
        self.until
            .insert((target.transport, target.addr), now + self.hold);
    }

    /// `target` answered: it is trusted again at once.
    pub fn succeed(&mut self, target: &Target) {
        self.until.remove(&(target.transport, target.addr));
    }

    /// Whether `target` is held back at `now`.
    pub fn is_quarantined(&self, target: &Target, now: Instant) -> bool {
        self.until
            .get(&(target.transport, target.addr))
            .is_some_and(|until| *until > now)
    }

    /// `targets` with those held back at `now` moved to the end, each part
    /// keeping its order. Forgets entries whose time is up.
    pub fn order(&mut self, targets: Vec<Target>, now: Instant) -> Vec<Target> {
        self.until.retain(|_, until| *until > now);
        let (held, mut free): (Vec<Target>, Vec<Target>) = targets
            .into_iter()
            .partition(|t| self.is_quarantined(t, now));
        free.extend(held);
        free
    }

    /// How many targets are remembered (some may have served their time).
    pub fn len(&self) -> usize {
        self.until.len()
    }

    /// Whether no target is remembered.
    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(port: u16) -> Target {
        Target {
            transport: Transport::Udp,
            addr: SocketAddr::from(([192, 0, 2, 1], port)),
            host: "a.example.test.".into(),
        }
    }

    fn ports(targets: &[Target]) -> Vec<u16> {
        targets.iter().map(|t| t.addr.port()).collect()
    }

    #[test]
    fn failed_targets_go_last_in_their_order() {
        let t0 = origin();
        let mut q = Quarantine::new(Duration::from_secs(30));
        q.fail(&target(2), t0);
        q.fail(&target(4), t0);
        let order = q.order((1..=5).map(target).collect(), t0 + Duration::from_secs(1));
        assert_eq!(ports(&order), [1, 3, 5, 2, 4]);
    }

    #[test]
    fn all_failed_are_still_all_tried() {
        let t0 = origin();
        let mut q = Quarantine::new(Duration::from_secs(30));
        for p in 1..=3 {
            q.fail(&target(p), t0);
        }
        assert_eq!(
            ports(&q.order((1..=3).map(target).collect(), t0)),
            [1, 2, 3]
        );
    }

    #[test]
    fn quarantine_expires() {
        let t0 = origin();
        let mut q = Quarantine::new(Duration::from_secs(30));
        q.fail(&target(1), t0);
        assert!(q.is_quarantined(&target(1), t0 + Duration::from_secs(29)));
        assert!(!q.is_quarantined(&target(1), t0 + Duration::from_secs(30)));
        let order = q.order(vec![target(1), target(2)], t0 + Duration::from_secs(31));
        assert_eq!(ports(&order), [1, 2]);
        assert!(q.is_empty());
    }

    #[test]
    fn success_lifts_the_quarantine_and_transport_is_part_of_the_key() {
        let t0 = origin();
        let mut q = Quarantine::new(Duration::from_secs(30));
        q.fail(&target(1), t0);
        let tcp = Target {
            transport: Transport::Tcp,
            ..target(1)
        };
        assert!(!q.is_quarantined(&tcp, t0));
        q.succeed(&target(1));
        assert!(!q.is_quarantined(&target(1), t0));
    }

    #[test]
    fn the_table_is_bounded() {
        let t0 = origin();
        let nth = |i: usize| Target {
            addr: SocketAddr::from(([198, 51, (i / 256) as u8, (i % 256) as u8], 5060)),
            ..target(0)
        };
        let mut q = Quarantine::new(Duration::from_secs(30));
        for i in 0..=Quarantine::MAX_ENTRIES {
            q.fail(&nth(i), t0 + Duration::from_millis(i as u64));
        }
        assert_eq!(q.len(), Quarantine::MAX_ENTRIES);
        // The first one, closest to its end, was forgotten; the last is held.
        assert!(!q.is_quarantined(&nth(0), t0));
        assert!(q.is_quarantined(&nth(Quarantine::MAX_ENTRIES), t0 + Duration::from_secs(5)));
    }

    /// The base of virtual time: the one place these tests read the clock;
    /// only differences from it matter.
    #[allow(clippy::disallowed_methods)]
    fn origin() -> Instant {
        Instant::now()
    }
}
