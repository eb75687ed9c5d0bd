//! Pure per-core structures: the channel index, presence members, the event cache, the
//! Sanctum verdict cache and the counters. Nothing here touches monoio or the `Shard`; each
//! structure is a plain value its owner core mutates.

pub(crate) mod cache;
pub(crate) mod channels;
pub(crate) mod collections;
#[cfg(test)]
mod collections_routes_tests;
pub(crate) mod interest;
pub(crate) mod presence;
pub(crate) mod registered;
pub(crate) mod sanctum_cache;
pub(crate) mod stats;
pub(crate) mod subscription_counts;
pub(crate) mod users;
