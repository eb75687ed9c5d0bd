//! The control core: one more thread with its own monoio runtime that owns the store and, in
//! later slices, the webhook delivery loop and the scheduler.
//!
//! Shards reach it only by message over the control mesh ([`msg::ControlMsg`] in
//! [`crate::ring`] rings: one endpoint per shard plus one for this core) and never wait on it
//! beyond a bounded timeout. SQLite runs here and nowhere else: a shard never opens the store,
//! and this module never touches a shard's connections or channel index.

pub mod msg;
mod ops;
mod thread;

pub use msg::{Answer, ControlMsg, Request};
pub use thread::{start, ControlCore, ControlError};
