//! Expiry by time-bucket leases.
//!
//! etcd deletes keys only through leases. One lease per record would cost
//! a lease grant per registration and a lease per binding in etcd's lessor;
//! instead time is cut into buckets of [`EtcdConfig::expiry_bucket`]
//! (10 s by default) and every key expiring within one bucket is attached
//! to the same lease, granted on demand, cached here, and **never kept
//! alive**: its TTL ends at the bucket's end plus
//! [`EtcdConfig::expiry_margin`], when etcd deletes all its keys at once,
//! one delete event each for watchers. A registration refresh that changes
//! nothing is then one transaction (a put moving the key to a later
//! bucket's lease), and a node holds about `max expiry / bucket` leases.
//!
//! So etcd deletes a record between its expiry and one bucket plus the
//! margin later. Snapshots hide it from its exact `expires_at_ms` on (kept
//! in the value envelope, see the `envelope` module); watchers see the
//! delete when etcd does it.
//!
//! A key is never attached to a lease that could expire before the
//! transaction carrying it lands: a put is placed in the bucket of
//! `max(expires_at_ms, now + guard)`, `guard` being the request timeout.
//! A put whose expiry is already past thus lives in etcd for about the
//! guard, hidden from snapshots, and is then deleted like any other.
//!
//! Each node caches its own leases; etcd's leader clock runs the TTL from
//! the grant. If a cached lease is gone anyway (etcd restored from a
//! backup), the transaction fails with "lease not found" and the group
//! committer forgets the lease and retries with a fresh one.
//!
//! [`EtcdConfig::expiry_bucket`]: crate::EtcdConfig::expiry_bucket
//! [`EtcdConfig::expiry_margin`]: crate::EtcdConfig::expiry_margin

use std::collections::BTreeMap;
use std::time::Duration;

/// The lease cache: bucket index to lease id.
#[derive(Debug)]
pub(crate) struct Buckets {
    bucket_ms: u64,
    margin_ms: u64,
    guard_ms: u64,
    leases: BTreeMap<u64, i64>,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Buckets {
    pub(crate) fn new(bucket: Duration, margin: Duration, guard: Duration) -> Buckets {
        Buckets {
            // A zero bucket would divide by zero; a millisecond is the
            // finest that makes sense (one lease per expiry instant).
            bucket_ms: millis(bucket).max(1),
            margin_ms: millis(margin),
            guard_ms: millis(guard),
            leases: BTreeMap::new(),
        }
    }

    /// The bucket a key expiring at `expires_at_ms` joins, at `now_ms`.
    pub(crate) fn bucket_of(&self, expires_at_ms: u64, now_ms: u64) -> u64 {
        expires_at_ms.max(now_ms.saturating_add(self.guard_ms)) / self.bucket_ms
    }

    /// When the lease of `bucket` must expire, Unix milliseconds.
    pub(crate) fn deadline_ms(&self, bucket: u64) -> u64 {
        bucket
            .saturating_add(1)
            .saturating_mul(self.bucket_ms)
            .saturating_add(self.margin_ms)
    }

    /// The TTL to grant `bucket`'s lease with at `now_ms`: whole seconds
    /// (etcd's unit), rounded up so that etcd never deletes early.
    pub(crate) fn ttl_secs(&self, bucket: u64, now_ms: u64) -> i64 {
        let left = self.deadline_ms(bucket).saturating_sub(now_ms);
        i64::try_from(left.div_ceil(1000))
            .unwrap_or(i64::MAX)
            .max(1)
    }

    pub(crate) fn lease(&self, bucket: u64) -> Option<i64> {
        self.leases.get(&bucket).copied()
    }

    pub(crate) fn insert(&mut self, bucket: u64, lease: i64) {
        self.leases.insert(bucket, lease);
    }

    /// Forgets a lease etcd no longer has.
    pub(crate) fn forget(&mut self, lease: i64) {
        self.leases.retain(|_, l| *l != lease);
    }

    /// Drops buckets no put will join again (their end is before
    /// `now + guard`); their leases expire by themselves.
    pub(crate) fn prune(&mut self, now_ms: u64) {
        let first_live = now_ms.saturating_add(self.guard_ms) / self.bucket_ms;
        self.leases = self.leases.split_off(&first_live);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.leases.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_a_bucket_and_leases_outlive_their_keys() {
        let b = Buckets::new(
            Duration::from_secs(10),
            Duration::from_secs(1),
            Duration::from_secs(2),
        );
        let now = 1_000_000;
        // Expiries within one 10 s window share a bucket.
        assert_eq!(b.bucket_of(1_030_001, now), b.bucket_of(1_039_999, now));
        assert_ne!(b.bucket_of(1_039_999, now), b.bucket_of(1_040_000, now));
        for exp in [now - 5_000, now, now + 1_500, now + 30_000, now + 3_600_000] {
            let bucket = b.bucket_of(exp, now);
            let deadline = b.deadline_ms(bucket);
            // Never deleted before the record expires...
            assert!(deadline > exp, "{exp}");
            // ...nor before the transaction carrying it can land...
            assert!(deadline > now + 2_000, "{exp}");
            // ...and at most a bucket, the margin and the guard after.
            assert!(deadline <= exp.max(now + 2_000) + 10_000 + 1_000, "{exp}");
            let ttl = b.ttl_secs(bucket, now);
            assert!(now + ttl as u64 * 1000 >= deadline);
            assert!(now + (ttl as u64 - 1) * 1000 < deadline);
        }
    }

    #[test]
    fn prune_keeps_reachable_buckets() {
        let mut b = Buckets::new(Duration::from_secs(10), Duration::ZERO, Duration::ZERO);
        for bucket in 0..10 {
            b.insert(bucket, bucket as i64 + 100);
        }
        b.prune(45_000);
        assert_eq!(b.len(), 6);
        assert_eq!(b.lease(4), Some(104));
        assert_eq!(b.lease(3), None);
        b.forget(105);
        assert_eq!(b.lease(5), None);
    }
}
