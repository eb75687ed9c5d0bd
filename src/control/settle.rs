//! Group commit of attempt outcomes: attempt tasks queue the end of their lease here, and one
//! flusher task writes everything queued within a short window in a single fenced
//! `finish_attempts` transaction, instead of one transaction per attempt.
//!
//! One transaction per finished attempt was what bounded delivery throughput: each commit costs
//! about as much as the HTTP round trip it records. Batching keeps every guarantee of the
//! per-attempt write: each outcome is still fenced by its lease token (a lease taken over in
//! the meantime drops that outcome only), and an outcome queued but not yet written when the
//! process dies leaves its lease in place, so the delivery is made again once the lease ends,
//! with the same `webhook-id` (at-least-once, as documented). A batch that fails as a whole
//! (a delivery removed with its endpoint while in flight makes the whole transaction fail) is
//! written again one outcome at a time, so one bad row never costs the others.

use std::cell::RefCell;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use super::{due, now_ms};
use crate::store::{DeliveryStore, Finished};
use crate::webhook::retry::NextState;

/// How long the flusher waits after the first queued outcome for others to join its batch.
/// Attempt tasks finish in bursts (one loop turn completes many requests), so a short window
/// already fills large batches; it only delays the write, never a delivery.
const WINDOW: Duration = Duration::from_millis(2);
/// Most outcomes written per transaction: bounds how long one commit holds the control core.
const MAX_BATCH: usize = 1024;
/// How often an idle flusher checks for shutdown.
const IDLE_TICK: Duration = Duration::from_millis(500);

/// The queue shared by the attempt tasks and the flusher.
#[derive(Default)]
pub(super) struct Settler {
    queue: RefCell<Vec<Finished>>,
    waker: RefCell<Option<Waker>>,
}

impl Settler {
    /// Queues an ended lease; the flusher records it with the others of its window.
    pub(super) fn push(&self, finished: Finished) {
        self.queue.borrow_mut().push(finished);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Waits until something is queued, or for `tick` at most.
    async fn queued(&self, tick: Duration) {
        let filled = poll_fn(|cx| {
            if !self.queue.borrow().is_empty() {
                return Poll::Ready(());
            }
            *self.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        });
        let _ = monoio::time::timeout(tick, filled).await;
    }

    /// Up to [`MAX_BATCH`] queued outcomes, oldest first.
    fn take(&self) -> Vec<Finished> {
        let mut queue = self.queue.borrow_mut();
        let n = queue.len().min(MAX_BATCH);
        queue.drain(..n).collect()
    }
}

/// Writes queued outcomes in batches until `stop` says so; what is queued at the stop is
/// written before it returns.
pub(super) async fn run<S: DeliveryStore>(
    store: Rc<S>,
    settler: Rc<Settler>,
    stop: impl Fn() -> bool,
) {
    loop {
        settler.queued(IDLE_TICK).await;
        if settler.queue.borrow().is_empty() {
            if stop() {
                return;
            }
            continue;
        }
        if settler.queue.borrow().len() < MAX_BATCH {
            monoio::time::sleep(WINDOW).await;
        }
        let batch = settler.take();
        flush(store.as_ref(), &batch).await;
    }
}

/// Records `batch` in one transaction; on failure, one outcome at a time.
pub(super) async fn flush<S: DeliveryStore>(store: &S, batch: &[Finished]) {
    let now = now_ms();
    match store.finish_attempts(batch, now).await {
        Ok(recorded) if recorded < batch.len() => tracing::warn!(
            dropped = batch.len() - recorded,
            "leases taken over before their attempts were recorded; those outcomes are dropped"
        ),
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(count = batch.len(), error = %e, "batch of webhook outcomes refused; recording them one by one");
            for f in batch {
                one(store, f, now).await;
            }
        }
    }
    // Retries and waits due before the loop's next read ring it (dropped ones ring
    // needlessly, which costs one read).
    if let Some(at) = batch.iter().filter_map(|f| due_at(&f.next)).min() {
        due::ring(at);
    }
}

/// The fallback of a refused batch: one outcome in its own transaction.
async fn one<S: DeliveryStore>(store: &S, f: &Finished, now: i64) {
    match store
        .finish_attempt(&f.id, f.lease, f.attempt.as_ref(), &f.next, now)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(delivery = %f.id, "lease taken over before the attempt was recorded; its outcome is dropped")
        }
        Err(e) => tracing::error!(delivery = %f.id, error = %e, "cannot record a webhook attempt"),
    }
}

/// When the delivery is due again, if it stays queued.
fn due_at(next: &NextState) -> Option<i64> {
    match *next {
        NextState::Retry { at_ms } | NextState::Wait { until_ms: at_ms } => Some(at_ms),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract::{block_on, new_delivery, seed_endpoint};
    use crate::store::{AttemptRecord, Delivery, DeliveryStatus, SqliteStore};

    /// A store with deliveries `ids` of endpoint `ep`, all claimed.
    async fn claimed(store: &SqliteStore, ids: &[&str]) -> Vec<Delivery> {
        seed_endpoint(store, "a", "ep").await;
        let batch: Vec<_> = ids.iter().map(|id| new_delivery("ep", id, 0)).collect();
        store.insert_deliveries(&batch).await.unwrap();
        store.claim_due_deliveries(0, 0, 60_000, 10).await.unwrap()
    }

    /// Attempt lines in the log of endpoint `ep`.
    async fn logged(store: &SqliteStore) -> usize {
        store
            .delivery_log("ep", None, 10)
            .await
            .unwrap()
            .items
            .len()
    }

    fn ended(d: &Delivery, code: Option<u16>, next: NextState) -> Finished {
        Finished {
            id: d.id.clone(),
            lease: d.lease,
            attempt: code.map(|c| AttemptRecord {
                attempt: d.attempt + 1,
                status_code: Some(c),
                latency_ms: 1,
                error: None,
                at_ms: 5,
            }),
            next,
        }
    }

    #[test]
    fn queued_outcomes_are_written_and_a_stop_still_writes_them() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Rc::new(SqliteStore::open(tmp.path()).unwrap());
        block_on(async {
            let ds = claimed(&store, &["d0", "d1"]).await;
            let settler = Rc::new(Settler::default());
            settler.push(ended(&ds[0], Some(200), NextState::Delivered));
            let retry = NextState::Retry { at_ms: 90_000 };
            settler.push(ended(&ds[1], Some(503), retry));
            // Stopped from the start: the flusher still writes what was queued.
            run(store.clone(), settler.clone(), || true).await;
            let d0 = store.get_delivery("d0").await.unwrap();
            assert_eq!(d0.status, DeliveryStatus::Delivered);
            let d1 = store.get_delivery("d1").await.unwrap();
            assert_eq!(
                (d1.status, d1.attempt, d1.next_attempt_at_ms),
                (DeliveryStatus::Pending, 1, 90_000)
            );
            assert!(settler.queue.borrow().is_empty());
            assert_eq!(logged(&store).await, 2, "attempt lines");
        });
    }

    #[test]
    fn a_refused_batch_is_recorded_one_by_one_and_stays_fenced() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(tmp.path()).unwrap();
        block_on(async {
            let ds = claimed(&store, &["d0", "d1", "d2"]).await;
            // d2 is replayed while its attempt is in flight: that outcome must not land.
            store.requeue_delivery("ep", "d2", 7).await.unwrap();
            let mut ghost = ended(&ds[0], None, NextState::Failed);
            ghost.id = "removed-with-its-endpoint".into();
            let batch = [
                ended(&ds[0], Some(200), NextState::Delivered),
                ghost,
                ended(&ds[1], Some(200), NextState::Delivered),
                ended(&ds[2], Some(200), NextState::Delivered),
            ];
            flush(&store, &batch).await;
            for (id, want) in [
                ("d0", DeliveryStatus::Delivered),
                ("d1", DeliveryStatus::Delivered),
                ("d2", DeliveryStatus::Pending),
            ] {
                assert_eq!(store.get_delivery(id).await.unwrap().status, want, "{id}");
            }
            assert_eq!(logged(&store).await, 2, "attempt lines");
        });
    }
}
