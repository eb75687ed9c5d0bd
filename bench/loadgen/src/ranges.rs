//! A set of received sequence numbers kept as sorted, disjoint half-open ranges.
//!
//! Deliveries on one subscription arrive mostly in order, so a whole run is usually one range
//! and each unsubscribe/reconnect gap adds one: memory grows with the gaps, never with the
//! deliveries. Owns only the set arithmetic; it knows nothing of channels or time.

/// Sorted, disjoint, non-adjacent `[start, end)` ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeSet {
    ranges: Vec<(u32, u32)>,
}

impl RangeSet {
    /// Adds `v`; returns false if it was already there (a duplicate).
    pub fn insert(&mut self, v: u32) -> bool {
        // Fast path: the next in order.
        if let Some(last) = self.ranges.last_mut() {
            if last.1 == v {
                last.1 += 1;
                return true;
            }
            if last.0 <= v && v < last.1 {
                return false;
            }
        }
        // The first range starting after v.
        let i = self.ranges.partition_point(|r| r.0 <= v);
        if i > 0 && v < self.ranges[i - 1].1 {
            return false;
        }
        let joins_prev = i > 0 && self.ranges[i - 1].1 == v;
        let joins_next = i < self.ranges.len() && self.ranges[i].0 == v + 1;
        match (joins_prev, joins_next) {
            (true, true) => {
                self.ranges[i - 1].1 = self.ranges[i].1;
                self.ranges.remove(i);
            }
            (true, false) => self.ranges[i - 1].1 = v + 1,
            (false, true) => self.ranges[i].0 = v,
            (false, false) => self.ranges.insert(i, (v, v + 1)),
        }
        true
    }

    pub fn contains(&self, v: u32) -> bool {
        let i = self.ranges.partition_point(|r| r.0 <= v);
        i > 0 && v < self.ranges[i - 1].1
    }

    /// Number of members.
    pub fn len(&self) -> u64 {
        self.ranges.iter().map(|r| u64::from(r.1 - r.0)).sum()
    }

    /// Members in `[lo, hi)`.
    pub fn count_in(&self, lo: u32, hi: u32) -> u64 {
        self.ranges
            .iter()
            .map(|&(a, b)| u64::from(b.min(hi).saturating_sub(a.max(lo))))
            .sum()
    }

    /// Number of ranges (the memory it holds).
    #[cfg(test)]
    pub fn ranges(&self) -> usize {
        self.ranges.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_is_one_range() {
        let mut s = RangeSet::default();
        for v in 0..1000 {
            assert!(s.insert(v));
        }
        assert_eq!((s.ranges(), s.len()), (1, 1000));
        assert!(!s.insert(999) && !s.insert(0) && !s.insert(500));
    }

    #[test]
    fn gaps_merge_and_duplicates_are_refused() {
        let mut s = RangeSet::default();
        for v in [5, 1, 3, 2, 9, 4, 8] {
            assert!(s.insert(v), "{v}");
        }
        assert_eq!(s.ranges, vec![(1, 6), (8, 10)]);
        assert!(!s.insert(3) && !s.insert(9));
        assert!(s.contains(1) && s.contains(5) && !s.contains(6) && !s.contains(0));
        assert_eq!(s.count_in(0, 9), 6);
        assert!(s.insert(6) && s.insert(7));
        assert_eq!(s.ranges, vec![(1, 10)]);
        assert!(s.insert(0));
        assert_eq!((s.ranges(), s.len()), (1, 10));
    }
}
