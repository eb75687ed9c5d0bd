//! This shard's memory of Sanctum verdicts: token → user id (valid) or rejected, each kept for
//! the app's `sanctum_cache_ttl`, so reconnects do not hit the app every time.
//!
//! One cache per shard (a shard is one thread, so it lives in a `thread_local`); no locks and no
//! cross-core traffic. Keys are the SHA-256 of the token, never the token itself. The map is
//! bounded: when full, expired entries go first, then the one closest to expiry.
//! Failures (timeouts, 5xx) are never cached.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::proto::auth::Identity;

/// Most verdicts one shard keeps.
pub const MAX_ENTRIES: usize = 10_000;

/// A cached introspection result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The app said the token belongs to this user.
    User(Identity),
    /// The app answered 401/403.
    Rejected,
}

/// Verdicts keyed by (app index, token hash), with their expiry.
pub struct SanctumCache {
    entries: HashMap<(usize, [u8; 32]), (Verdict, Instant)>,
    max: usize,
}

impl SanctumCache {
    /// An empty cache holding at most `max` verdicts.
    pub fn new(max: usize) -> Self {
        SanctumCache {
            entries: HashMap::new(),
            max: max.max(1),
        }
    }

    /// The live verdict for `token` of `app`, if any.
    pub fn get(&mut self, app: usize, token: &str, now: Instant) -> Option<Verdict> {
        let key = (app, digest(token));
        match self.entries.get(&key) {
            Some((verdict, expires)) if *expires > now => Some(verdict.clone()),
            Some(_) => {
                self.entries.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Remembers `verdict` for `ttl` (nothing when `ttl` is zero).
    pub fn put(&mut self, app: usize, token: &str, verdict: Verdict, ttl: Duration, now: Instant) {
        if ttl.is_zero() {
            return;
        }
        let key = (app, digest(token));
        if self.entries.len() >= self.max && !self.entries.contains_key(&key) {
            self.entries.retain(|_, (_, expires)| *expires > now);
            if self.entries.len() >= self.max {
                let soonest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, (_, expires))| *expires)
                    .map(|(k, _)| *k);
                if let Some(k) = soonest {
                    self.entries.remove(&k);
                }
            }
        }
        self.entries.insert(key, (verdict, now + ttl));
    }

    /// Verdicts held (live or not yet purged).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

thread_local! {
    static CACHE: RefCell<SanctumCache> = RefCell::new(SanctumCache::new(MAX_ENTRIES));
}

/// Runs `f` on this shard's cache (the borrow never spans an `.await`).
pub fn with<R>(f: impl FnOnce(&mut SanctumCache) -> R) -> R {
    CACHE.with(|c| f(&mut c.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn user(id: &str) -> Identity {
        Identity {
            user: Arc::from(id),
            claims: Arc::new(serde_json::json!({ "id": id })),
        }
    }

    #[test]
    fn verdicts_expire_after_their_ttl() {
        let mut c = SanctumCache::new(10);
        let t0 = Instant::now();
        let ttl = Duration::from_secs(60);
        c.put(0, "1|good", Verdict::User(user("7")), ttl, t0);
        c.put(0, "1|bad", Verdict::Rejected, ttl, t0);
        assert_eq!(c.get(0, "1|good", t0), Some(Verdict::User(user("7"))));
        assert_eq!(c.get(0, "1|bad", t0), Some(Verdict::Rejected));
        assert_eq!(c.get(1, "1|good", t0), None, "per app");
        assert_eq!(c.get(0, "1|good", t0 + ttl), None);
        c.put(0, "x", Verdict::Rejected, Duration::ZERO, t0);
        assert_eq!(c.get(0, "x", t0), None, "ttl 0 caches nothing");
    }

    #[test]
    fn the_map_is_bounded() {
        let mut c = SanctumCache::new(3);
        let t0 = Instant::now();
        for i in 0..10u64 {
            let ttl = Duration::from_secs(100 + i);
            c.put(0, &format!("t{i}"), Verdict::Rejected, ttl, t0);
            assert!(c.len() <= 3);
        }
        assert_eq!(c.get(0, "t9", t0), Some(Verdict::Rejected));
        assert_eq!(c.get(0, "t0", t0), None, "the soonest to expire went first");
    }
}
