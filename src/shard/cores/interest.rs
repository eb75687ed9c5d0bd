//! Which other cores have subscribers of a channel, so a publish goes only where it is needed.
//!
//! Every core announces to every other core when one of its channels gains its first local
//! subscriber or loses its last (one ring message per transition, not per subscriber). Each
//! core keeps the resulting bitmask per channel and consults it, without asking anyone, when it
//! publishes. A REST publish first drains the rings (`catch_up`), so a subscription confirmed
//! to its client before the publish request was sent is always seen.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use super::owner::send;
use crate::shard::state::{CoreMsg, Shard};

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

/// Adds connection `key` to the local index, announcing a first subscriber to the other cores.
pub fn add_local(shard: &Shard, app: usize, channel: &Rc<str>, key: usize) {
    let first = shard.channels.borrow_mut().subscribe(app, channel, key);
    if first {
        announce(shard, app, channel, true);
    }
}

/// Removes connection `key` from the local index, announcing when it was the last subscriber.
pub fn remove_local(shard: &Shard, app: usize, channel: &str, key: usize) {
    let last = shard.channels.borrow_mut().unsubscribe(app, channel, key);
    if last {
        announce(shard, app, channel, false);
    }
}

fn announce(shard: &Shard, app: usize, channel: &str, on: bool) {
    let channel: Arc<str> = Arc::from(channel);
    for dst in (0..shard.config.workers).filter(|&d| d != shard.id) {
        send(
            shard,
            dst,
            CoreMsg::Interest {
                app,
                channel: channel.clone(),
                core: shard.id,
                on,
            },
        );
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
