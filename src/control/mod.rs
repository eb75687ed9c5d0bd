//! The control core: one more thread with its own monoio runtime that owns the store, records
//! the webhook deliveries of published events and delivers them (later also the scheduler).
//!
//! Shards reach it only by message over the control star ([`msg::ControlMsg`] in
//! [`crate::ring`] rings: one endpoint per shard plus one for this core) and never wait on it
//! beyond a bounded timeout. SQLite runs here and nowhere else: a shard never opens the store,
//! and this module never touches a shard's connections or channel index.

mod cluster;
mod config_hooks;
mod deliver;
mod directory;
mod due;
mod manual;
pub mod msg;
mod notify;
mod ops;
mod outgoing;
mod pusher_endpoints;
mod pusher_hooks;
mod record;
mod relay;
mod retention;
mod settle;
mod shared_endpoints;
mod signing_keys;
mod stats;
mod thread;
mod webhook_stats;
mod webhook_tasks;

pub use cluster::{ClusterCounts, ClusterDone, ClusterOp, Command, Member, Share};
pub use msg::{Answer, ControlMsg, Notify, Published, Relayed, Request};
pub use retention::BATCH as RETENTION_BATCH;
pub use stats::{NotifyStats, LATENESS_BUCKETS};
pub use thread::{start, ControlCore, ControlError};
pub use webhook_stats::{WebhookStats, DELIVERY_LATENCY_BUCKETS, DELIVERY_RESULTS};

/// Unix milliseconds: the control core's clock.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
