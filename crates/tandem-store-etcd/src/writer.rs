//! The group committer: one task that turns callers' batches into etcd
//! transactions.
//!
//! **Merging.** Callers queue batches (already checked, reduced to one op
//! per key and enveloped by [`Store::commit`](tandem_store::Store)). The
//! task takes the batch at the head of the queue and merges the ones behind
//! it into the same transaction while they fit: within etcd's
//! `--max-txn-ops` (128, see [`Size`]) and
//! [`MAX_TXN_BYTES`], and no key touched (or
//! required) by two batches. Merging stops at the first batch that does
//! not fit, so batches leave the queue in call order.
//!
//! A batch without conditions puts its writes straight into the merged
//! transaction (which has no compares, so it applies them all or none). A
//! batch with conditions (`Op::Require`) becomes a **nested transaction**
//! of it (etcd ≥ 3.3): its conditions are the compares, its writes the
//! success branch, and a read of each required key the failure branch.
//! So every batch is all-or-nothing on its own, exactly as with the
//! embedded backend's savepoints: one whose condition fails writes nothing
//! and gets `Conflict` naming the key (found from those reads), the others
//! commit. etcd evaluates all compares before any write; since no two
//! batches of a group share a key, that is the same as evaluating them in
//! order. A batch sent alone is sent as a plain transaction. Every batch
//! of a merged transaction gets its revision: unlike the embedded backend,
//! concurrent commits may share a revision.
//!
//! **The window** is what gathers while earlier transactions are in
//! flight: up to [`EtcdConfig::max_in_flight`](crate::EtcdConfig) at once,
//! so that etcd can put several in one raft round and disk sync, plus an
//! optional [`EtcdConfig::commit_window`](crate::EtcdConfig) wait when
//! idle. A batch touching a key of an in-flight transaction waits for it
//! (and so does everything queued behind it), so two writes to one key are
//! always applied in call order. A transaction slower than [`STALLED`]
//! (one that lost its leader and waits for its deadline) frees its slot,
//! though not its keys, so that commits resume as soon as a new leader is
//! elected rather than a request timeout later.
//!
//! **Expiry.** Puts with `expires_at_ms` are attached to their time
//! bucket's lease (see the `expiry` module), granted here on first use.
//!
//! **Failures.** Every step is bounded by the earliest deadline of the
//! batches it serves (each batch's is its call time plus the request
//! timeout); a batch still queued at its deadline is failed without being
//! sent. So a commit resolves within the request timeout, with
//! `Unavailable` if etcd did not answer (the transaction may still apply:
//! as with any timeout, the outcome is unknown). If etcd refuses a merged
//! transaction, each batch is retried alone, so that one bad batch fails
//! only its own caller; if a cached lease turns out to be gone, it is
//! forgotten and the batches retried once with a fresh lease.

use crate::clock::now;
use crate::error::{kind, timed_out, to_store, Kind};
use crate::expiry::Buckets;
use crate::keys::{MAX_TXN_BYTES, MAX_TXN_OPS};
use crate::pool::{CallError, Pool};
use etcd_client::{Compare, CompareOp, GetOptions, PutOptions, Txn, TxnOp, TxnOpResponse};
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tandem_store::{Error, Expect, Rev};
use tokio::sync::{mpsc, oneshot};

/// A condition of a batch: the full etcd key, the caller's key (named in
/// `Conflict`), what is expected.
#[derive(Debug, Clone)]
pub(crate) struct Require {
    pub(crate) key: Vec<u8>,
    pub(crate) user_key: String,
    pub(crate) expect: Expect,
}

impl Require {
    fn compare(&self) -> Compare {
        match self.expect {
            // etcd compares a missing key as if every revision were 0.
            Expect::Absent => Compare::create_revision(self.key.clone(), CompareOp::Equal, 0),
            Expect::Present => Compare::create_revision(self.key.clone(), CompareOp::Greater, 0),
            Expect::Rev(rev) => Compare::mod_revision(
                self.key.clone(),
                CompareOp::Equal,
                i64::try_from(rev).unwrap_or(i64::MAX),
            ),
        }
    }

    /// Whether the key as read (its mod revision, `None` if absent) meets
    /// the condition.
    fn holds(&self, mod_rev: Option<i64>) -> bool {
        match (self.expect, mod_rev) {
            (Expect::Absent, None) | (Expect::Present, Some(_)) => true,
            (Expect::Rev(want), Some(have)) => i64::try_from(want).ok() == Some(have),
            _ => false,
        }
    }
}

/// One op of a batch, ready to send: the full etcd key, and for a put the
/// enveloped value.
#[derive(Debug, Clone)]
pub(crate) enum Prepared {
    Put {
        key: Vec<u8>,
        stored: Vec<u8>,
        expires_at_ms: Option<u64>,
    },
    Delete {
        key: Vec<u8>,
    },
}

impl Prepared {
    fn key(&self) -> &[u8] {
        match self {
            Prepared::Put { key, .. } | Prepared::Delete { key } => key,
        }
    }
}

/// One caller's commit.
pub(crate) struct Batch {
    pub(crate) ops: Vec<Prepared>,
    pub(crate) requires: Vec<Require>,
    /// Transaction bytes it needs.
    pub(crate) bytes: usize,
    /// When the caller stops waiting.
    pub(crate) deadline: Instant,
    pub(crate) reply: oneshot::Sender<Result<Rev, Error>>,
    /// The caller's first key, to name in errors.
    pub(crate) first_key: String,
    /// Sent in a transaction of its own (after a merged one was refused).
    pub(crate) alone: bool,
    /// Retries after a lost lease.
    pub(crate) lease_retries: u8,
}

impl Batch {
    /// Every key it writes or requires.
    fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.ops
            .iter()
            .map(Prepared::key)
            .chain(self.requires.iter().map(|r| r.key.as_slice()))
    }

    fn op_count(&self) -> usize {
        self.ops.len() + self.requires.len()
    }

    fn answer(self, result: Result<Rev, Error>) {
        // The caller may have dropped its future: the outcome stands.
        let _ = self.reply.send(result);
    }
}

/// What the writer task is told.
pub(crate) enum WriterMsg {
    Commit(Batch),
    /// Commit what is queued, then stop.
    Close,
}

/// How long a transaction may take before it stops counting against
/// [`EtcdConfig::max_in_flight`](crate::EtcdConfig): one that lost its
/// leader hangs until its deadline (its outcome unknown), and must not
/// hold back the commits that the next leader would take at once. Its keys
/// stay busy until it ends.
const STALLED: Duration = Duration::from_millis(100);
/// The most transactions outstanding at once, stalled ones included, so
/// that a slow etcd is not flooded.
const MAX_OUTSTANDING: usize = 64;

/// What a transaction's task reports.
enum TxnEvent {
    /// It has taken [`STALLED`]: its slot is free.
    Stalled,
    /// It ended.
    Done(Done),
}

/// A transaction finished: its keys are free again.
struct Done {
    /// Whether it had stalled (and so already freed its slot).
    stalled: bool,
    keys: Vec<Vec<u8>>,
    /// Batches to send again, at the head of the queue.
    retry: Vec<Batch>,
    /// Leases etcd no longer has.
    dead_leases: Vec<i64>,
}

pub(crate) struct Writer {
    pub(crate) pool: Arc<Pool>,
    pub(crate) rx: mpsc::UnboundedReceiver<WriterMsg>,
    pub(crate) buckets: Buckets,
    pub(crate) window: Duration,
    pub(crate) max_in_flight: usize,
}

impl Writer {
    pub(crate) async fn run(mut self) {
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<TxnEvent>();
        let mut queue: VecDeque<Batch> = VecDeque::new();
        // Keys of outstanding transactions.
        let mut busy: HashSet<Vec<u8>> = HashSet::new();
        // Transactions holding a slot (not stalled), and all of them.
        let mut in_flight = 0usize;
        let mut outstanding = 0usize;
        let mut closing = false;
        let max_in_flight = self.max_in_flight.max(1);
        loop {
            if closing && queue.is_empty() && outstanding == 0 {
                break;
            }
            tokio::select! {
                biased;
                Some(event) = done_rx.recv() => match event {
                    TxnEvent::Stalled => in_flight -= 1,
                    TxnEvent::Done(done) => {
                        outstanding -= 1;
                        if !done.stalled {
                            in_flight -= 1;
                        }
                        for k in &done.keys {
                            busy.remove(k);
                        }
                        for lease in done.dead_leases {
                            self.buckets.forget(lease);
                        }
                        for b in done.retry.into_iter().rev() {
                            queue.push_front(b);
                        }
                    }
                },
                msg = self.rx.recv(), if !closing => match msg {
                    Some(WriterMsg::Commit(b)) => queue.push_back(b),
                    Some(WriterMsg::Close) | None => closing = true,
                },
            }
            self.drain(&mut queue, &mut closing);
            if in_flight == 0 && !closing && !queue.is_empty() && !self.window.is_zero() {
                // Idle: wait a little for company.
                let sleep = tokio::time::sleep(self.window);
                tokio::pin!(sleep);
                while !closing && queued_ops(&queue) < MAX_TXN_OPS {
                    tokio::select! {
                        _ = &mut sleep => break,
                        msg = self.rx.recv() => match msg {
                            Some(WriterMsg::Commit(b)) => queue.push_back(b),
                            Some(WriterMsg::Close) | None => closing = true,
                        },
                    }
                }
            }
            while in_flight < max_in_flight && outstanding < MAX_OUTSTANDING {
                let group = take_group(&mut queue, &busy);
                let Some(deadline) = group.iter().map(|b| b.deadline).min() else {
                    break;
                };
                let (txn, shape, leases) = match self.build(&group, deadline).await {
                    Ok(built) => built,
                    Err(e) => {
                        for b in group {
                            b.answer(Err(e.clone()));
                        }
                        continue;
                    }
                };
                let keys: Vec<Vec<u8>> = group
                    .iter()
                    .flat_map(|b| b.keys().map(<[u8]>::to_vec))
                    .collect();
                busy.extend(keys.iter().cloned());
                in_flight += 1;
                outstanding += 1;
                tokio::spawn(send_txn(
                    Arc::clone(&self.pool),
                    group,
                    txn,
                    shape,
                    leases,
                    deadline,
                    keys,
                    done_tx.clone(),
                ));
            }
        }
    }

    /// Takes every message already queued, without waiting.
    fn drain(&mut self, queue: &mut VecDeque<Batch>, closing: &mut bool) {
        while !*closing {
            match self.rx.try_recv() {
                Ok(WriterMsg::Commit(b)) => queue.push_back(b),
                Ok(WriterMsg::Close) | Err(mpsc::error::TryRecvError::Disconnected) => {
                    *closing = true
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
            }
        }
    }

    /// The transaction for `group` (see the module doc), how to read its
    /// outcome, and the leases it uses.
    async fn build(
        &mut self,
        group: &[Batch],
        deadline: Instant,
    ) -> Result<(Txn, Shape, Vec<i64>), Error> {
        let clock = now();
        self.buckets.prune(clock.unix_ms);
        let mut leases = Vec::new();
        let mut writes = Vec::with_capacity(group.len());
        for batch in group {
            let mut ops = Vec::with_capacity(batch.ops.len());
            for op in &batch.ops {
                match op {
                    Prepared::Put {
                        key,
                        stored,
                        expires_at_ms,
                    } => {
                        let options = match expires_at_ms {
                            None => None,
                            Some(exp) => {
                                let bucket = self.buckets.bucket_of(*exp, clock.unix_ms);
                                let lease = match self.buckets.lease(bucket) {
                                    Some(lease) => lease,
                                    None => self.grant(bucket, clock.unix_ms, deadline).await?,
                                };
                                if !leases.contains(&lease) {
                                    leases.push(lease);
                                }
                                Some(PutOptions::new().with_lease(lease))
                            }
                        };
                        ops.push(TxnOp::put(key.clone(), stored.clone(), options));
                    }
                    Prepared::Delete { key } => ops.push(TxnOp::delete(key.clone(), None)),
                }
            }
            writes.push(ops);
        }
        if let [batch] = group {
            let ops = writes.pop().unwrap_or_default();
            return Ok((conditional(batch, ops), Shape::Plain, leases));
        }
        let mut outer = Vec::new();
        let mut nested = Vec::with_capacity(group.len());
        for (batch, ops) in group.iter().zip(writes) {
            if batch.requires.is_empty() {
                nested.push(None);
                outer.extend(ops);
            } else {
                nested.push(Some(outer.len()));
                outer.push(TxnOp::txn(conditional(batch, ops)));
            }
        }
        Ok((Txn::new().and_then(outer), Shape::Merged(nested), leases))
    }

    /// Grants the lease of `bucket`, and caches it.
    async fn grant(&mut self, bucket: u64, now_ms: u64, deadline: Instant) -> Result<i64, Error> {
        let ttl = self.buckets.ttl_secs(bucket, now_ms);
        let granted = self
            .pool
            .call(deadline, |client| async move {
                client.lease_client().grant(ttl, None).await
            })
            .await;
        match granted {
            Ok(resp) => {
                tracing::debug!(
                    bucket,
                    lease = resp.id(),
                    ttl = resp.ttl(),
                    "granted expiry lease"
                );
                self.buckets.insert(bucket, resp.id());
                Ok(resp.id())
            }
            Err(CallError::Etcd(e)) => Err(to_store(&e, &self.pool.names)),
            Err(CallError::TimedOut) => Err(timed_out("lease grant", &self.pool.names)),
        }
    }
}

fn queued_ops(queue: &VecDeque<Batch>) -> usize {
    queue.iter().map(Batch::op_count).sum()
}

/// How a transaction's response maps to its batches.
enum Shape {
    /// One batch, sent as a plain transaction.
    Plain,
    /// Several: for each batch, the index of its nested transaction's
    /// response, if it has conditions.
    Merged(Vec<Option<usize>>),
}

/// One batch's transaction: its conditions as compares, its writes on
/// success, reads of the required keys on failure (to name the key in
/// `Conflict`).
fn conditional(batch: &Batch, ops: Vec<TxnOp>) -> Txn {
    if batch.requires.is_empty() {
        return Txn::new().and_then(ops);
    }
    let compares: Vec<Compare> = batch.requires.iter().map(Require::compare).collect();
    let reads: Vec<TxnOp> = batch
        .requires
        .iter()
        .map(|r| TxnOp::get(r.key.clone(), Some(GetOptions::new().with_keys_only())))
        .collect();
    // etcd-client wants the branches in this order.
    Txn::new().when(compares).and_then(ops).or_else(reads)
}

/// A merged transaction's size as etcd's `--max-txn-ops` check counts it
/// (`checkTxnRequest`): the outer success branch holds the writes of
/// unconditional batches and one nested transaction per conditional
/// batch, and each nested transaction may only use what the outer one
/// left of the limit.
#[derive(Debug, Default, Clone, Copy)]
struct Size {
    outer: usize,
    nested: usize,
}

impl Size {
    fn with(self, b: &Batch) -> Size {
        if b.requires.is_empty() {
            Size {
                outer: self.outer + b.ops.len(),
                ..self
            }
        } else {
            Size {
                outer: self.outer + 1,
                nested: self.nested.max(b.ops.len()).max(b.requires.len()),
            }
        }
    }

    fn fits(self) -> bool {
        self.outer + self.nested <= MAX_TXN_OPS
    }
}

/// The batches at the head of the queue that go in one transaction (see
/// the module doc); fails those already past their deadline. Empty when
/// the queue is, or when its head must wait for an in-flight transaction.
fn take_group(queue: &mut VecDeque<Batch>, busy: &HashSet<Vec<u8>>) -> Vec<Batch> {
    let clock = now().instant;
    let expired = |b: &Batch| b.deadline <= clock;
    // Failed at the head so that a group is never empty while the queue
    // holds work that could be sent.
    while let Some(b) = queue.pop_front() {
        if !expired(&b) {
            queue.push_front(b);
            break;
        }
        b.answer(Err(queued_too_long()));
    }
    let Some(first_alone) = queue.front().map(|b| b.alone) else {
        return Vec::new();
    };
    let mut keys: HashSet<&[u8]> = HashSet::new();
    let (mut size, mut bytes, mut take) = (Size::default(), 0, 0);
    for b in queue.iter() {
        if b.keys().any(|k| busy.contains(k)) {
            break;
        }
        // The first batch always goes (alone, as a plain transaction, it
        // is within the limits `keys::prepare` checked).
        if take > 0
            && (first_alone
                || b.alone
                || !size.with(b).fits()
                || bytes + b.bytes > MAX_TXN_BYTES
                || b.keys().any(|k| keys.contains(k)))
        {
            break;
        }
        keys.extend(b.keys());
        size = size.with(b);
        bytes += b.bytes;
        take += 1;
    }
    let mut group = Vec::with_capacity(take);
    for b in queue.drain(..take) {
        if expired(&b) {
            b.answer(Err(queued_too_long()));
        } else {
            group.push(b);
        }
    }
    group
}

fn queued_too_long() -> Error {
    Error::Unavailable {
        reason: "commit still queued at its deadline: etcd is slow or has no quorum".to_owned(),
    }
}

/// The `Conflict` of a batch whose conditions failed: the first condition
/// the failure branch's reads show unmet.
fn conflict(batch: &Batch, txn: &etcd_client::TxnResponse) -> Error {
    let reads = txn.op_responses();
    let failed = batch.requires.iter().enumerate().find(|(i, r)| {
        let mod_rev = match reads.get(*i) {
            Some(TxnOpResponse::Get(get)) => get.kvs().first().map(|kv| kv.mod_revision()),
            _ => None,
        };
        !r.holds(mod_rev)
    });
    let key = failed
        .or(batch.requires.first().map(|r| (0, r)))
        .map_or_else(|| batch.first_key.clone(), |(_, r)| r.user_key.clone());
    Error::Conflict { key }
}

/// Sends one transaction and answers its batches.
#[allow(clippy::too_many_arguments)] // One spawned task's state, passed once.
async fn send_txn(
    pool: Arc<Pool>,
    group: Vec<Batch>,
    txn: Txn,
    shape: Shape,
    leases: Vec<i64>,
    deadline: Instant,
    keys: Vec<Vec<u8>>,
    done: mpsc::UnboundedSender<TxnEvent>,
) {
    let request = pool.call(deadline, |client| {
        let txn = txn.clone();
        async move { client.kv_client().txn(txn).await }
    });
    tokio::pin!(request);
    let endpoints = &pool.names;
    let mut stalled = false;
    let sent = tokio::select! {
        sent = &mut request => sent,
        _ = tokio::time::sleep(STALLED) => {
            stalled = true;
            let _ = done.send(TxnEvent::Stalled);
            request.await
        }
    };
    let mut retry = Vec::new();
    let mut dead_leases = Vec::new();
    match sent {
        Ok(resp) => {
            let rev = resp
                .header()
                .map_or(0, |h| u64::try_from(h.revision()).unwrap_or(0));
            match shape {
                Shape::Plain => {
                    for b in group {
                        let result = if resp.succeeded() {
                            Ok(rev)
                        } else {
                            Err(conflict(&b, &resp))
                        };
                        b.answer(result);
                    }
                }
                Shape::Merged(nested) => {
                    let outcomes = resp.op_responses();
                    for (b, at) in group.into_iter().zip(nested) {
                        let result = match at.and_then(|i| outcomes.get(i)) {
                            Some(TxnOpResponse::Txn(inner)) if !inner.succeeded() => {
                                Err(conflict(&b, inner))
                            }
                            _ => Ok(rev),
                        };
                        b.answer(result);
                    }
                }
            }
        }
        Err(CallError::TimedOut) => {
            let e = timed_out("commit", endpoints);
            for b in group {
                b.answer(Err(e.clone()));
            }
        }
        Err(CallError::Etcd(e)) => match kind(&e) {
            Kind::LeaseNotFound => {
                tracing::warn!(?leases, "etcd lost an expiry lease; granting a new one");
                dead_leases = leases;
                for mut b in group {
                    if b.lease_retries == 0 {
                        b.lease_retries += 1;
                        retry.push(b);
                    } else {
                        let e = to_store(&e, endpoints);
                        b.answer(Err(e));
                    }
                }
            }
            Kind::Refused if group.len() > 1 => {
                // One batch spoiled the lot (etcd's limits may be set below
                // the defaults checked here): find out which.
                for mut b in group {
                    b.alone = true;
                    retry.push(b);
                }
            }
            _ => {
                for b in group {
                    let mut e = to_store(&e, endpoints);
                    if let Error::Invalid { key, .. } = &mut e {
                        key.clone_from(&b.first_key);
                    }
                    b.answer(Err(e));
                }
            }
        },
    }
    let _ = done.send(TxnEvent::Done(Done {
        stalled,
        keys,
        retry,
        dead_leases,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn batch(keys: &[&str], alone: bool) -> (Batch, oneshot::Receiver<Result<Rev, Error>>) {
        let (reply, rx) = oneshot::channel();
        let b = Batch {
            ops: keys
                .iter()
                .map(|k| Prepared::Delete {
                    key: k.as_bytes().to_vec(),
                })
                .collect(),
            requires: Vec::new(),
            bytes: keys.len() * 40,
            deadline: now().instant + Duration::from_secs(60),
            reply,
            first_key: keys.first().map_or(String::new(), |k| (*k).to_owned()),
            alone,
            lease_retries: 0,
        };
        (b, rx)
    }

    fn sizes(groups: &mut VecDeque<Batch>, busy: &HashSet<Vec<u8>>) -> Vec<usize> {
        let mut out = Vec::new();
        loop {
            let g = take_group(groups, busy);
            if g.is_empty() {
                return out;
            }
            out.push(g.len());
        }
    }

    #[test]
    fn merges_until_a_key_repeats() {
        let mut q: VecDeque<Batch> = [&["a"][..], &["b", "c"], &["d"], &["a"], &["e"]]
            .iter()
            .map(|k| batch(k, false).0)
            .collect();
        assert_eq!(sizes(&mut q, &HashSet::new()), vec![3, 2]);
    }

    fn chunks(n: usize, per: usize, conditional: bool) -> VecDeque<Batch> {
        let keys: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
        keys.chunks(per)
            .map(|c| {
                let refs: Vec<&str> = c.iter().map(String::as_str).collect();
                let mut b = batch(&refs, false).0;
                if conditional {
                    b.requires.push(Require {
                        key: format!("r{}", c[0]).into_bytes(),
                        user_key: String::new(),
                        expect: Expect::Absent,
                    });
                }
                b
            })
            .collect()
    }

    #[test]
    fn respects_etcd_s_op_limit() {
        // Unconditional writes share the outer branch: 128 at most.
        assert_eq!(
            sizes(&mut chunks(300, 10, false), &HashSet::new()),
            vec![12, 12, 6]
        );
        assert_eq!(
            sizes(&mut chunks(300, 1, false), &HashSet::new()),
            vec![128, 128, 44]
        );
        // Conditional batches are one outer op each, and their own ops
        // count against what the outer branch leaves.
        assert_eq!(sizes(&mut chunks(300, 10, true), &HashSet::new()), vec![30]);
        let sz = |q: &mut VecDeque<Batch>| sizes(q, &HashSet::new());
        assert_eq!(sz(&mut chunks(300, 100, true)), vec![3]);
        assert_eq!(sz(&mut chunks(1000, 125, true)), vec![3, 3, 2]);
        // 100 outer writes and a nested 30: over; the next two fit.
        let mut mixed = chunks(100, 100, false);
        mixed.extend(chunks(60, 30, true));
        assert_eq!(sz(&mut mixed), vec![1, 2]);
        // A batch at the limit goes alone.
        assert_eq!(
            sizes(&mut chunks(256, 128, false), &HashSet::new()),
            vec![1, 1]
        );
    }

    #[test]
    fn waits_behind_in_flight_keys_and_sends_alone_batches_alone() {
        let mut q: VecDeque<Batch> = VecDeque::new();
        q.push_back(batch(&["a"], false).0);
        q.push_back(batch(&["b"], false).0);
        let busy: HashSet<Vec<u8>> = [b"a".to_vec()].into_iter().collect();
        assert!(take_group(&mut q, &busy).is_empty());
        assert_eq!(q.len(), 2);
        let mut q: VecDeque<Batch> = VecDeque::new();
        q.push_back(batch(&["a"], true).0);
        q.push_back(batch(&["b"], true).0);
        q.push_back(batch(&["c"], false).0);
        q.push_back(batch(&["d"], false).0);
        assert_eq!(sizes(&mut q, &HashSet::new()), vec![1, 1, 2]);
    }

    #[test]
    fn expired_batches_are_failed_not_sent() {
        let (mut b, mut rx) = batch(&["a"], false);
        b.deadline = now().instant;
        let mut q: VecDeque<Batch> = [b].into_iter().collect();
        assert!(take_group(&mut q, &HashSet::new()).is_empty());
        assert!(matches!(rx.try_recv(), Ok(Err(Error::Unavailable { .. }))));
    }
}
