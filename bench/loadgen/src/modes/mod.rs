//! Workloads: which channel each connection joins, where each event goes, and at what rate.
//!
//! Owns the [`Scenario`] trait and the choice of one implementation per [`ModeKind`] (one module
//! each). A scenario is pure arithmetic over indices: it opens no socket and keeps no state, so the
//! run engine (`run.rs`) and the report (`stats.rs`) can ask it the same questions.
//!
//! `ramp` drives the run engine's phases itself (one publish phase per rate step over the same
//! connections); `pingpong` and `soak` have engines of their own (client events, churn and
//! reconnects do not fit the one-subscription subscriber of `client.rs`), but share the
//! WebSocket client, the publisher's HTTP client, the signing and the report.

mod channels;
mod fanout;
pub mod pingpong;
pub mod ramp;
pub mod records;
pub mod soak;

use std::time::Duration;

use crate::args::{Args, ModeKind};

/// A workload, as the run engine sees it.
pub trait Scenario: Send + Sync {
    /// Channels in use; names are `PREFIX-0 .. PREFIX-(n-1)`.
    fn channels(&self) -> usize;
    /// The channel connection `conn` subscribes to.
    fn channel_of_connection(&self, conn: usize) -> usize;
    /// The channel event `seq` is published on.
    fn channel_of_event(&self, seq: u64) -> usize;
    /// Events per second (all publishers together) at `elapsed` into the publish phase.
    fn rate_at(&self, elapsed: Duration) -> f64;
    /// Whether "to the last subscriber" latency is meaningful (many subscribers per event).
    fn reports_last_subscriber(&self) -> bool;
}

/// The scenario for the arguments' mode; `None` for the modes with their own engine.
pub fn scenario(args: &Args) -> Option<Box<dyn Scenario>> {
    match args.mode() {
        ModeKind::Fanout => Some(Box::new(fanout::Fanout { rate: args.rate })),
        ModeKind::Channels | ModeKind::Ramp => Some(Box::new(channels::Channels {
            rate: args.rate,
            channels: args.channel_count(),
        })),
        ModeKind::Records => Some(Box::new(records::Records {
            rate: args.rate,
            owners: args.connections - args.scanned,
            connections: args.connections,
        })),
        ModeKind::Pingpong | ModeKind::Soak => None,
    }
}
