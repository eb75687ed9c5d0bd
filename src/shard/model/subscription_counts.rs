//! Per-core subscription counts of the channels a core owns, summed so the owner can tell when
//! a channel's cluster-wide subscription count changes.
//!
//! Pure bookkeeping: each core reports its own local count of a channel to the owner, and
//! [`SubscriptionCounts::set`] answers the new total when it differs from the last one. The
//! entry is dropped when the total reaches zero, so an idle channel costs nothing.

use std::collections::HashMap;
use std::sync::Arc;

/// The last count each core reported, per (app, channel).
#[derive(Debug, Default)]
pub struct SubscriptionCounts {
    counts: HashMap<(usize, Arc<str>), Vec<u64>>,
}

impl SubscriptionCounts {
    /// Records that `core` (of `cores`) has `count` local subscribers of `channel`; the new
    /// cluster-wide total when it changed.
    pub fn set(
        &mut self,
        app: usize,
        channel: Arc<str>,
        core: usize,
        cores: usize,
        count: u64,
    ) -> Option<u64> {
        let key = (app, channel);
        let per_core = self
            .counts
            .entry(key.clone())
            .or_insert_with(|| vec![0; cores.max(core + 1)]);
        let before: u64 = per_core.iter().sum();
        per_core[core] = count;
        let after: u64 = per_core.iter().sum();
        if after == 0 {
            self.counts.remove(&key);
        }
        (after != before).then_some(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_is_reported_once_per_change_across_cores() {
        let mut c = SubscriptionCounts::default();
        let ch: Arc<str> = Arc::from("room");
        let mut set = |core, count| c.set(0, ch.clone(), core, 2, count);
        assert_eq!(set(0, 1), Some(1));
        assert_eq!(set(1, 1), Some(2));
        assert_eq!(set(1, 1), None, "a repeated report is no change");
        assert_eq!(set(0, 2), Some(3));
        assert_eq!(set(0, 0), Some(1));
        assert_eq!(set(1, 0), Some(0));
        assert!(c.counts.is_empty(), "an empty channel is forgotten");
        assert_eq!(
            c.set(1, Arc::from("room"), 0, 2, 1),
            Some(1),
            "apps are apart"
        );
    }
}
