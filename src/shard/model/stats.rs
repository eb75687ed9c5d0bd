//! Per-shard counters for `/metrics`: written only by their own shard (relaxed atomics, so no
//! cache line bounces between cores), read by whichever core renders the metrics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::proto::pusher::error::Code;
use crate::proto::ws::WsError;

/// How many codes are counted: every WebSocket close code and every Pusher error code.
const CODE_COUNT: usize = WsError::CLOSE_CODES.len() + Code::ALL.len();

/// Error and close codes the server emits, in the order they are counted: taken from the two
/// error enums, so a new code is counted as soon as it exists.
pub fn codes() -> impl Iterator<Item = u16> {
    let pusher = Code::ALL.iter().map(|&c| c as u16);
    WsError::CLOSE_CODES.into_iter().chain(pusher)
}

/// Upper bounds (seconds) of the delivery-latency histogram buckets; the last is +Inf.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
];

/// One shard's counters.
#[derive(Default)]
pub struct ShardStats {
    /// WebSocket messages received from clients.
    pub messages_in: AtomicU64,
    /// Frames queued to clients.
    pub messages_out: AtomicU64,
    /// Connections closed because their outbound queue went over its cap.
    pub slow_consumer_closes: AtomicU64,
    /// Messages pushed into this shard's outgoing rings.
    pub ring_sent: AtomicU64,
    /// Messages that found a ring full and waited in the overflow queue.
    pub ring_overflowed: AtomicU64,
    /// Messages waiting in the overflow queues right now.
    pub ring_overflow_depth: AtomicU64,
    /// Errors sent, per entry of [`codes`].
    pub errors: [AtomicU64; CODE_COUNT],
    /// Delivery latency histogram: one counter per bucket of [`LATENCY_BUCKETS`] plus +Inf.
    pub latency_buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    /// Sum of observed latencies, in nanoseconds.
    pub latency_sum_ns: AtomicU64,
}

impl ShardStats {
    /// Counts one error or close code (codes outside [`codes`] are not counted).
    pub fn error(&self, code: u16) {
        if let Some(i) = codes().position(|c| c == code) {
            self.errors[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records one delivery latency.
    pub fn latency(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.latency_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_ns
            .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_lands_in_the_right_bucket() {
        let s = ShardStats::default();
        s.latency(Duration::from_micros(30));
        s.latency(Duration::from_millis(3));
        s.latency(Duration::from_secs(2));
        let counts: Vec<u64> = s
            .latency_buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        assert_eq!(counts[0], 1);
        assert_eq!(counts[6], 1, "3 ms ≤ 5 ms bucket");
        assert_eq!(counts[LATENCY_BUCKETS.len()], 1, "+Inf");
        s.error(4301);
        s.error(9999);
        let i = codes().position(|c| c == 4301).unwrap();
        assert_eq!(s.errors[i].load(Ordering::Relaxed), 1);
        let total: u64 = s.errors.iter().map(|e| e.load(Ordering::Relaxed)).sum();
        assert_eq!(total, 1, "9999 is not a code the server sends");
    }
}
