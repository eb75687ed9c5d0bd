//! A shard's background duties over time: the idle sweeper and graceful shutdown.

pub(crate) mod shutdown;
pub(crate) mod sweeper;
