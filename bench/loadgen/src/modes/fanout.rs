//! `fanout`: every connection on one channel; each event is delivered to all of them.
//!
//! The figure this mode exists for is the fan-out completion time: per event, the latency to the
//! last subscriber, as percentiles over events.

use std::time::Duration;

use super::Scenario;

pub struct Fanout {
    pub rate: f64,
}

impl Scenario for Fanout {
    fn channels(&self) -> usize {
        1
    }
    fn channel_of_connection(&self, _conn: usize) -> usize {
        0
    }
    fn channel_of_event(&self, _seq: u64) -> usize {
        0
    }
    fn rate_at(&self, _elapsed: Duration) -> f64 {
        self.rate
    }
    fn reports_last_subscriber(&self) -> bool {
        true
    }
}
