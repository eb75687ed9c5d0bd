//! A shard's background duties over time: the idle sweeper and graceful shutdown, plus the
//! runtime builder the shards and the control core share.

pub mod runtime;
pub(crate) mod shutdown;
pub(crate) mod sweeper;
