//! Between cores (and toward the control core): the ring messages, channel ownership, the drain task that handles incoming
//! messages, fan-out of event frames, cross-core interest, watchlists and scatter-gather reads.

pub(crate) mod cluster;
pub(crate) mod cluster_cache;
pub(crate) mod collections;
pub(crate) mod control;
pub(crate) mod dispatch;
pub(crate) mod fanout;
pub(crate) mod gather;
pub(crate) mod interest;
pub(crate) mod msg;
pub(crate) mod occupancy;
pub(crate) mod owner;
pub(crate) mod presence;
pub(crate) mod records_relay;
pub(crate) mod relay;
pub(crate) mod subscription_count;
pub(crate) mod watchlist;
pub(crate) mod yield_now;
