//! The last event of each cache channel, kept by the channel's owning core.
//!
//! A new subscriber of a `cache-*` channel gets the cached frame right after
//! `subscription_succeeded`, or `pusher:cache_miss` when there is none (or it expired).
//! Expired entries are also swept on store, so channels that are never fetched again do not
//! pile up. It never reads the clock: callers pass `now`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Below this many entries an app's cache is swept only by time.
const MIN_SWEEP_LEN: usize = 64;

/// One app's cached frames with the time each was stored.
struct AppCache {
    ttl: Duration,
    entries: HashMap<Arc<str>, (Bytes, Instant)>,
    /// The next store sweeps when the map reaches this size...
    sweep_len: usize,
    /// ...or when this time has come, whichever is first.
    sweep_at: Option<Instant>,
}

impl AppCache {
    fn fresh(&self, at: Instant, now: Instant) -> bool {
        now.saturating_duration_since(at) < self.ttl
    }

    /// Drops expired entries when the map has doubled since the last sweep or a ttl has passed:
    /// amortised O(1) per store, and memory bounded by what was stored within about one ttl.
    fn maybe_sweep(&mut self, now: Instant) {
        let due = self.sweep_at.is_some_and(|at| now >= at);
        if !due && self.entries.len() < self.sweep_len {
            return;
        }
        let (ttl, entries) = (self.ttl, &mut self.entries);
        entries.retain(|_, (_, at)| now.saturating_duration_since(*at) < ttl);
        self.sweep_len = (entries.len() * 2).max(MIN_SWEEP_LEN);
        self.sweep_at = Some(now + ttl);
    }
}

/// Cached frames per app and channel.
pub struct EventCache {
    apps: Vec<AppCache>,
}

impl EventCache {
    /// An empty cache with one entry lifetime (`cache_ttl`) per app.
    pub fn new(ttls: impl IntoIterator<Item = Duration>) -> Self {
        let apps = ttls
            .into_iter()
            .map(|ttl| AppCache {
                ttl,
                entries: HashMap::new(),
                sweep_len: MIN_SWEEP_LEN,
                sweep_at: None,
            })
            .collect();
        EventCache { apps }
    }

    /// Replaces the cached event of `channel`.
    pub fn store(&mut self, app: usize, channel: Arc<str>, frame: Bytes, now: Instant) {
        let cache = &mut self.apps[app];
        cache.entries.insert(channel, (frame, now));
        cache.maybe_sweep(now);
    }

    /// The cached frame of `channel` if it is younger than the app's ttl; an expired entry is
    /// dropped.
    pub fn fetch(&mut self, app: usize, channel: &str, now: Instant) -> Option<Bytes> {
        let cache = &mut self.apps[app];
        let (frame, at) = cache.entries.get(channel)?;
        if cache.fresh(*at, now) {
            return Some(frame.clone());
        }
        cache.entries.remove(channel);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(60);

    #[test]
    fn stores_replaces_and_expires() {
        let mut c = EventCache::new([TTL]);
        let t0 = Instant::now();
        assert!(c.fetch(0, "cache-a", t0).is_none());
        c.store(0, Arc::from("cache-a"), Bytes::from_static(b"one"), t0);
        c.store(0, Arc::from("cache-a"), Bytes::from_static(b"two"), t0);
        assert_eq!(c.fetch(0, "cache-a", t0).unwrap(), "two");
        assert!(c.fetch(0, "cache-a", t0 + TTL).is_none());
        assert!(
            c.fetch(0, "cache-a", t0).is_none(),
            "expired entry was dropped"
        );
    }

    #[test]
    fn expired_channels_are_pruned_without_being_fetched() {
        let mut c = EventCache::new([TTL]);
        let t0 = Instant::now();
        for i in 0..10_000 {
            c.store(0, Arc::from(format!("cache-{i}")), Bytes::new(), t0);
        }
        let later = t0 + Duration::from_secs(61);
        c.store(0, Arc::from("cache-new"), Bytes::from_static(b"x"), later);
        assert!(
            c.apps[0].entries.len() < 100,
            "{} entries kept",
            c.apps[0].entries.len()
        );
        assert_eq!(c.fetch(0, "cache-new", later).unwrap(), "x");
    }

    #[test]
    fn live_entries_survive_sweeps_and_apps_keep_their_own_ttl() {
        let mut c = EventCache::new([TTL, Duration::from_secs(1)]);
        let t0 = Instant::now();
        c.store(0, Arc::from("cache-a"), Bytes::from_static(b"a"), t0);
        c.store(1, Arc::from("cache-b"), Bytes::from_static(b"b"), t0);
        let t1 = t0 + Duration::from_secs(30);
        for i in 0..1000 {
            c.store(0, Arc::from(format!("cache-{i}")), Bytes::new(), t1);
        }
        assert_eq!(c.apps[0].entries.len(), 1001);
        assert_eq!(c.fetch(0, "cache-a", t1).unwrap(), "a");
        assert!(c.fetch(1, "cache-b", t0 + Duration::from_secs(2)).is_none());
    }
}
