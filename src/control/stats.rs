//! The scheduler's figures for `/metrics`: pending notifications per app, delivered and failed
//! totals, and how late deliveries were.
//!
//! Written only by the control core's delivery loop and read by any shard answering
//! `/metrics`, through relaxed atomics in [`crate::shard::Shared`]; nothing here blocks.

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds (seconds) of the lateness histogram's buckets; the last bucket is +Inf.
pub const LATENESS_BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0];

/// The scheduler's counters.
#[derive(Debug)]
pub struct NotifyStats {
    /// Pending notifications per app (in `Config::apps` order), refreshed every few seconds.
    pub pending: Vec<AtomicU64>,
    /// Notifications handed to the fan-out.
    pub delivered: AtomicU64,
    /// Notifications given up on.
    pub failed: AtomicU64,
    /// Lateness of deliveries: one counter per bucket of [`LATENESS_BUCKETS`] plus +Inf.
    pub lateness_buckets: [AtomicU64; LATENESS_BUCKETS.len() + 1],
    /// Sum of the lateness, milliseconds.
    pub lateness_sum_ms: AtomicU64,
}

impl NotifyStats {
    /// Zeroed counters for `apps` apps.
    pub fn new(apps: usize) -> Self {
        NotifyStats {
            pending: (0..apps).map(|_| AtomicU64::new(0)).collect(),
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            lateness_buckets: Default::default(),
            lateness_sum_ms: AtomicU64::new(0),
        }
    }

    /// Counts a delivery `late_ms` after its due time.
    pub fn delivered(&self, late_ms: u64) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        let secs = late_ms as f64 / 1000.0;
        let bucket = LATENESS_BUCKETS
            .iter()
            .position(|le| secs <= *le)
            .unwrap_or(LATENESS_BUCKETS.len());
        self.lateness_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.lateness_sum_ms.fetch_add(late_ms, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_lands_in_its_bucket() {
        let s = NotifyStats::new(1);
        s.delivered(3);
        s.delivered(700);
        s.delivered(120_000);
        let counts: Vec<u64> = s
            .lateness_buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        assert_eq!((counts[0], counts[6], counts[10]), (1, 1, 1));
        assert_eq!(s.delivered.load(Ordering::Relaxed), 3);
        assert_eq!(s.lateness_sum_ms.load(Ordering::Relaxed), 120_703);
    }
}
