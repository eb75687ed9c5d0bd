//! A shard's side of the cache channels across nodes (scaling on): the events this node
//! publishes go to Redis as each channel's last event, and a subscriber whose owner core has
//! no event of the channel gets the cluster's (see `control::cluster::cache`).
//!
//! The shard never waits for Redis: a write is fire and forget, and a fetch is answered to
//! the subscriber when the control core's outcome arrives ([`on_fetched`]), the subscription
//! itself being already confirmed. A node that learns an event this way keeps it for the time
//! Redis has left on it, so the next subscribers are answered locally.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{control, dispatch};
use crate::control::{ClusterOp, ControlMsg};
use crate::proto::pusher;
use crate::shard::state::{ConnRef, Shard};

/// Hands an application event this node published on a cache channel to the control core,
/// as the channel's last event for every node. Nothing for other channels, or for an app
/// whose `cache_ttl` is 0 (it caches nothing).
pub fn store(shard: &Shard, app: usize, channel: &str, frame: &Bytes) {
    if !pusher::is_cache_channel(channel) {
        return;
    }
    let ttl_ms = u64::from(shard.config.apps[app].cache_ttl) * 1000;
    if ttl_ms == 0 {
        return;
    }
    let op = ClusterOp::CacheStore {
        app,
        channel: Arc::from(channel),
        frame: frame.clone(),
        ttl_ms,
    };
    control::tell(shard, ControlMsg::Cluster(Box::new(op)));
}

/// Asks the cluster for `channel`'s last event on behalf of subscriber `conn`; this core owns
/// the channel and has none.
pub fn fetch(shard: &Shard, app: usize, channel: Arc<str>, conn: ConnRef) {
    let op = ClusterOp::CacheFetch {
        from: shard.id,
        app,
        channel,
        conn,
    };
    control::tell(shard, ControlMsg::Cluster(Box::new(op)));
}

/// The cluster's answer for a subscriber: the event (kept here for the time Redis has left on
/// it), or a cache miss. An event that reached this core while the question was out is newer
/// than Redis's answer, so it wins.
pub fn on_fetched(
    shard: &Shard,
    app: usize,
    channel: Arc<str>,
    conn: ConnRef,
    found: Option<(Bytes, Duration)>,
) {
    let now = Instant::now();
    let local = shard.cache.borrow_mut().fetch(app, &channel, now);
    let frame = match (local, found) {
        (Some(frame), _) => Some(frame),
        (None, Some((frame, left))) => {
            let ttl = Duration::from_secs(shard.config.apps[app].cache_ttl.into());
            let stored_at = now.checked_sub(ttl.saturating_sub(left)).unwrap_or(now);
            let mut cache = shard.cache.borrow_mut();
            cache.store(app, channel.clone(), frame.clone(), stored_at);
            Some(frame)
        }
        (None, None) => None,
    };
    dispatch::answer_cache(shard, app, channel, conn, frame);
}
