//! History retention: a periodic job on the control core that removes delivered and failed
//! deliveries, with their attempts, once they are older than `webhooks.retention_days`
//! (default 90), and old attempt lines of deliveries still retrying.
//!
//! It deletes in batches of [`BATCH`] rows, one short transaction each, and yields between
//! them, so a large backlog never holds the control core's loop (or a shard waiting on it) for
//! long. The time is passed in, so the job is tested under an injected clock. Pending and
//! waiting deliveries are never removed: retention must not lose an accepted delivery.

use std::rc::Rc;
use std::time::Duration;

use crate::store::{DeliveryStore, Pruned, StoreError};

/// Rows removed per transaction. Each batch holds the control core's loop (and the REST
/// publishes waiting on it) while it runs: on SQLite with a million finished deliveries a batch
/// of 1,000 took about 100 ms (`cargo bench --bench webhook_store`), so batches stay smaller.
pub const BATCH: usize = 250;
/// How often the job runs.
const PERIOD_MS: i64 = 3600 * 1000;
/// How often the loop checks for shutdown while it waits.
const TICK: Duration = Duration::from_secs(1);
const DAY_MS: i64 = 24 * 3600 * 1000;

/// Removes what `retention_days` no longer keeps at `now_ms`, `batch` rows at a time, until
/// nothing is left to remove; returns the totals.
pub async fn prune<S: DeliveryStore>(
    store: &S,
    now_ms: i64,
    retention_days: u32,
    batch: usize,
) -> Result<Pruned, StoreError> {
    let cutoff = now_ms - i64::from(retention_days) * DAY_MS;
    let mut total = Pruned::default();
    loop {
        let step = store.prune_deliveries(cutoff, batch).await?;
        if step == Pruned::default() {
            return Ok(total);
        }
        total.deliveries += step.deliveries;
        total.attempts += step.attempts;
        // Lets the request loop answer between two batches.
        monoio::time::sleep(Duration::ZERO).await;
    }
}

/// Runs [`prune`] at start and then every hour until `stop` says so; `now` is the clock.
pub async fn run<S: DeliveryStore>(
    store: Rc<S>,
    retention_days: u32,
    now: impl Fn() -> i64,
    stop: impl Fn() -> bool,
) {
    let mut next = now();
    while !stop() {
        let at = now();
        if at >= next {
            match prune(store.as_ref(), at, retention_days, BATCH).await {
                Ok(p) if p != Pruned::default() => tracing::info!(
                    deliveries = p.deliveries,
                    attempts = p.attempts,
                    retention_days,
                    "webhook history pruned"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "cannot prune the webhook history"),
            }
            next = at + PERIOD_MS;
        }
        monoio::time::sleep(TICK).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract::{block_on, new_delivery, seed_endpoint};
    use crate::store::{AttemptRecord, DeliveryStatus, SqliteStore};
    use crate::webhook::retry::NextState;

    const T0: i64 = 1_700_000_000_000;

    /// Records delivery `id` at `at_ms` and makes one attempt ending in `next`.
    async fn delivery(store: &SqliteStore, id: &str, at_ms: i64, next: NextState) {
        store
            .insert_deliveries(&[new_delivery("ep", id, at_ms)])
            .await
            .unwrap();
        let claimed = store
            .claim_due_deliveries(at_ms, at_ms, at_ms + 1000, 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        let record = AttemptRecord {
            attempt: 1,
            status_code: Some(200),
            latency_ms: 3,
            error: None,
            at_ms,
        };
        store
            .finish_attempt(id, claimed[0].lease, Some(&record), &next, at_ms)
            .await
            .unwrap();
    }

    #[test]
    fn finished_history_older_than_the_retention_is_removed_in_batches() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(tmp.path()).unwrap();
        block_on(async {
            seed_endpoint(&store, "a", "ep").await;
            for i in 0..5 {
                delivery(&store, &format!("old{i}"), T0, NextState::Delivered).await;
            }
            delivery(&store, "old_failed", T0, NextState::Failed).await;
            let retry = NextState::Retry {
                at_ms: T0 + DAY_MS * 200,
            };
            delivery(&store, "old_retrying", T0, retry).await;
            delivery(&store, "recent", T0 + DAY_MS * 50, NextState::Delivered).await;

            // 89 days on, nothing is old enough.
            let early = prune(&store, T0 + DAY_MS * 89, 90, 2).await.unwrap();
            assert_eq!(early, Pruned::default());
            // 91 days on, in batches of 2: the six finished ones and their attempts, and the
            // old attempt line of the one still retrying.
            let due = prune(&store, T0 + DAY_MS * 91, 90, 2).await.unwrap();
            assert_eq!((due.deliveries, due.attempts), (6, 7));
            for gone in ["old0", "old4", "old_failed"] {
                assert!(store.get_delivery(gone).await.is_err(), "{gone} kept");
            }
            let live = store.get_delivery("old_retrying").await.unwrap();
            assert_eq!(live.status, DeliveryStatus::Pending);
            assert!(store.get_delivery("recent").await.is_ok());
            let log = store.delivery_log("ep", None, 100).await.unwrap();
            let ids: Vec<&str> = log.items.iter().map(|e| e.delivery_id.as_str()).collect();
            assert_eq!(ids, ["recent"]);
        });
    }

    #[test]
    fn the_job_prunes_at_start_and_stops_when_asked() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Rc::new(SqliteStore::open(tmp.path()).unwrap());
        block_on(async {
            seed_endpoint(store.as_ref(), "a", "ep").await;
            delivery(&store, "old", T0, NextState::Delivered).await;
            let polls = std::cell::Cell::new(0);
            // The injected clock stands 8 days on; the retention is 7 days.
            let stop = || {
                polls.set(polls.get() + 1);
                polls.get() > 1
            };
            run(store.clone(), 7, || T0 + DAY_MS * 8, stop).await;
            assert!(store.get_delivery("old").await.is_err(), "the job kept it");
        });
    }
}
