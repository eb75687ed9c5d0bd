//! The last event of each cache channel, kept by the channel's owning core.
//!
//! A new subscriber of a `cache-*` channel gets the cached frame right after
//! `subscription_succeeded`, or `pusher:cache_miss` when there is none (or it expired).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Cached frames per app and channel.
pub struct EventCache {
    apps: Vec<HashMap<Arc<str>, (Bytes, Instant)>>,
}

impl EventCache {
    /// An empty cache for `apps` apps.
    pub fn new(apps: usize) -> Self {
        EventCache {
            apps: (0..apps).map(|_| HashMap::new()).collect(),
        }
    }

    /// Replaces the cached event of `channel`.
    pub fn store(&mut self, app: usize, channel: Arc<str>, frame: Bytes, now: Instant) {
        self.apps[app].insert(channel, (frame, now));
    }

    /// The cached frame of `channel` if it is younger than `ttl`; expired entries are dropped.
    pub fn fetch(
        &mut self,
        app: usize,
        channel: &str,
        ttl: Duration,
        now: Instant,
    ) -> Option<Bytes> {
        let map = &mut self.apps[app];
        let (frame, at) = map.get(channel)?;
        if now.duration_since(*at) < ttl {
            return Some(frame.clone());
        }
        map.remove(channel);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_replaces_and_expires() {
        let mut c = EventCache::new(1);
        let t0 = Instant::now();
        let ttl = Duration::from_secs(60);
        assert!(c.fetch(0, "cache-a", ttl, t0).is_none());
        c.store(0, Arc::from("cache-a"), Bytes::from_static(b"one"), t0);
        c.store(0, Arc::from("cache-a"), Bytes::from_static(b"two"), t0);
        assert_eq!(c.fetch(0, "cache-a", ttl, t0).unwrap(), "two");
        assert!(c.fetch(0, "cache-a", ttl, t0 + ttl).is_none());
        assert!(
            c.fetch(0, "cache-a", ttl, t0).is_none(),
            "expired entry was dropped"
        );
    }
}
