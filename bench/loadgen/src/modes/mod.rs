//! Workloads: which channel each connection joins, where each event goes, and at what rate.
//!
//! Owns the [`Scenario`] trait and the choice of one implementation per [`ModeKind`] (one module
//! each). A scenario is pure arithmetic over indices: it opens no socket and keeps no state, so the
//! run engine (`run.rs`) and the report (`stats.rs`) can ask it the same questions.
//!
//! Hooks for later modes: a rate ramp is a scenario whose [`Scenario::rate_at`] grows with the
//! elapsed time (the publisher already asks it before every event); client-event ping-pong needs a
//! scenario flag that makes `client.rs` send `client-*` events on a private channel and time the
//! echo, reported through the same delivery log.

mod channels;
mod fanout;

use std::time::Duration;

use crate::args::{Args, ModeKind};

/// A workload, as the run engine sees it.
pub trait Scenario: Send + Sync {
    fn kind(&self) -> ModeKind;
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

/// The scenario for the arguments' mode.
pub fn scenario(args: &Args) -> Box<dyn Scenario> {
    match args.mode() {
        ModeKind::Fanout => Box::new(fanout::Fanout { rate: args.rate }),
        ModeKind::Channels => Box::new(channels::Channels {
            rate: args.rate,
            channels: args.channel_count(),
        }),
    }
}
