//! `channels`: N connections spread evenly over C channels (connection i joins channel i mod C);
//! events go round-robin over the channels (event seq to channel seq mod C).
//!
//! This is the many-small-channels throughput shape: deliveries per second at a given p99.

use std::time::Duration;

use super::Scenario;

pub struct Channels {
    pub rate: f64,
    pub channels: usize,
}

impl Scenario for Channels {
    fn channels(&self) -> usize {
        self.channels
    }
    fn channel_of_connection(&self, conn: usize) -> usize {
        conn % self.channels
    }
    fn channel_of_event(&self, seq: u64) -> usize {
        (seq % self.channels as u64) as usize
    }
    fn rate_at(&self, _elapsed: Duration) -> f64 {
        self.rate
    }
    fn reports_last_subscriber(&self) -> bool {
        true
    }
}
