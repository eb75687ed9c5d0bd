//! Which other cores have subscribers of a channel: one bitmask per channel, kept from the
//! other cores' announcements. A plain per-core structure; `cores::interest` sends and applies
//! the announcements.

use std::collections::HashMap;
use std::sync::Arc;

/// Remote interest per app and channel: bit `c` set when core `c` has local subscribers (one
/// `u64`, which is why `workers` is at most 64).
pub struct Interest {
    apps: Vec<HashMap<Arc<str>, u64>>,
}

impl Interest {
    /// No interest anywhere, for `apps` apps.
    pub fn new(apps: usize) -> Self {
        Interest {
            apps: (0..apps).map(|_| HashMap::new()).collect(),
        }
    }

    /// Records that `core` gained (`on`) or lost its local subscribers of `channel`.
    pub fn set(&mut self, app: usize, channel: Arc<str>, core: usize, on: bool) {
        let map = &mut self.apps[app];
        let bit = 1u64 << core;
        if on {
            *map.entry(channel).or_insert(0) |= bit;
        } else if let Some(mask) = map.get_mut(&channel) {
            *mask &= !bit;
            if *mask == 0 {
                map.remove(&channel);
            }
        }
    }

    /// The cores (other than the asker) with subscribers of `channel`.
    pub fn cores(&self, app: usize, channel: &str) -> u64 {
        self.apps[app].get(channel).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_follow_announcements() {
        let mut i = Interest::new(1);
        let ch: Arc<str> = Arc::from("news");
        i.set(0, ch.clone(), 1, true);
        i.set(0, ch.clone(), 3, true);
        assert_eq!(i.cores(0, "news"), 0b1010);
        i.set(0, ch.clone(), 1, false);
        assert_eq!(i.cores(0, "news"), 0b1000);
        i.set(0, ch, 3, false);
        assert_eq!(i.cores(0, "news"), 0);
        assert!(i.apps[0].is_empty());
    }
}
