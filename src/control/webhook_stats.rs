//! The webhook figures for `/metrics`: attempts by result, attempt latency, the queue depth
//! (deliveries not yet finished) and the endpoints whose breaker is open.
//!
//! Written only by the control core (the delivery loop counts each attempt; a gauge task
//! recounts the queue and the breakers from the store every [`GAUGE_PERIOD`]) and read by any
//! shard answering `/metrics`, through relaxed atomics in [`crate::shard::Shared`].

use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::shard::Shared;
use crate::store::AnyStore;
use crate::webhook::retry::Outcome;

/// The `result` label of an attempt, in counter order.
pub const DELIVERY_RESULTS: [&str; 4] = ["success", "failure", "timeout", "connection_error"];

/// Upper bounds (seconds) of the attempt latency histogram's buckets; the last is +Inf.
pub const DELIVERY_LATENCY_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];

/// How often the queue depth and open breakers are recounted.
const GAUGE_PERIOD: Duration = Duration::from_secs(1);

/// The webhook counters.
#[derive(Debug, Default)]
pub struct WebhookStats {
    /// Attempts per result, in [`DELIVERY_RESULTS`] order.
    pub results: [AtomicU64; DELIVERY_RESULTS.len()],
    /// Attempt latency: one counter per bucket of [`DELIVERY_LATENCY_BUCKETS`] plus +Inf.
    pub latency_buckets: [AtomicU64; DELIVERY_LATENCY_BUCKETS.len() + 1],
    /// Sum of the attempt latencies, milliseconds.
    pub latency_sum_ms: AtomicU64,
    /// Deliveries pending or waiting (the queue), at the last recount.
    pub queued: AtomicU64,
    /// Endpoints whose breaker is open, at the last recount.
    pub breakers_open: AtomicU64,
}

impl WebhookStats {
    /// Counts one attempt that ended in `outcome` after `latency_ms`.
    pub fn attempt(&self, outcome: &Outcome<'_>, latency_ms: u64) {
        let result = match outcome {
            Outcome::Status { code, .. } if (200..300).contains(code) => 0,
            Outcome::Status { .. } => 1,
            Outcome::Timeout => 2,
            Outcome::Connect(_) => 3,
        };
        self.results[result].fetch_add(1, Ordering::Relaxed);
        let secs = latency_ms as f64 / 1000.0;
        let bucket = DELIVERY_LATENCY_BUCKETS
            .iter()
            .position(|le| secs <= *le)
            .unwrap_or(DELIVERY_LATENCY_BUCKETS.len());
        self.latency_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_ms.fetch_add(latency_ms, Ordering::Relaxed);
    }
}

/// Recounts the gauges from the store until `stop` says so.
pub async fn run_gauges(
    store: Rc<AnyStore>,
    shared: Arc<Shared>,
    now: impl Fn() -> i64,
    stop: impl Fn() -> bool,
) {
    while !stop() {
        match store.webhook_gauges(now()).await {
            Ok(g) => {
                let stats = &shared.webhooks;
                stats.queued.store(g.queued, Ordering::Relaxed);
                stats
                    .breakers_open
                    .store(g.breakers_open, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(error = %e, "cannot count the webhook queue"),
        }
        monoio::time::sleep(GAUGE_PERIOD).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_land_in_their_result_and_latency_bucket() {
        let s = WebhookStats::default();
        s.attempt(
            &Outcome::Status {
                code: 204,
                retry_after: None,
            },
            3,
        );
        let refused = Outcome::Status {
            code: 500,
            retry_after: None,
        };
        s.attempt(&refused, 700);
        s.attempt(&Outcome::Timeout, 30_001);
        s.attempt(&Outcome::Connect("refused"), 1);
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let results: Vec<u64> = s.results.iter().map(load).collect();
        assert_eq!(results, [1, 1, 1, 1]);
        let buckets: Vec<u64> = s.latency_buckets.iter().map(load).collect();
        assert_eq!(
            (buckets[0], buckets[7], buckets[11]),
            (2, 1, 1),
            "{buckets:?}"
        );
        assert_eq!(load(&s.latency_sum_ms), 30_705);
    }
}
