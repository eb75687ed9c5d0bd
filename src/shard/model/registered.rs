//! One collection's compiled filters on one core, under handles the caller chooses: the
//! filters in a [`FilterIndex`], and the field paths of the filters it cannot key (scanned on
//! every change) in a [`PathTable`], so each such path is looked up once per change however
//! many of them read it.
//!
//! [`Collections`](super::collections::Collections) keeps one per collection for this core's
//! connections; the handle is the connection's slab key. Pure: no monoio, no `Shard`.

use std::collections::HashMap;

use slab::Slab;

use crate::proto::filter::{
    delivery_resolved, Change, CompiledFilter, Delivery, FilterIndex, NumberTest, PathTable,
};

/// One collection's registered filters. Keyed filters sit in a slab, and the index's handles
/// are their slots, so a candidate is found by position, not by hashing its handle. The
/// filters without an index key are evaluated on every change, so they sit side by side in
/// one array: walking them reads memory in order instead of one scattered slab entry (a cache
/// miss) per filter, which was most of a change's cost with a hundred of them among 10,000.
/// Beside them, position for position, each one's [`NumberTest`] if it is that simple: most
/// scanned filters that do not match are ruled out from that dense array alone.
#[derive(Default)]
pub(crate) struct Registered {
    index: FilterIndex<usize>,
    keyed: Slab<Sub>,
    scanned: Vec<Sub>,
    tests: Vec<Option<NumberTest>>,
    /// Where each registered handle's filter is.
    place_of: HashMap<usize, Place>,
    /// The paths of the scanned filters. Keyed filters are not interned: their paths would
    /// be resolved on every change whether or not the index picks them, a cost in proportion
    /// to the subscriptions instead of the candidates.
    paths: PathTable,
}

#[derive(Debug, Clone, Copy)]
enum Place {
    /// A slot of `keyed`, and the index's handle.
    Keyed(usize),
    /// A position in `scanned`.
    Scanned(usize),
}

/// One registered filter.
pub(crate) struct Sub {
    /// Whose it is.
    pub handle: usize,
    /// Interned in the collection's path table when it has no index key.
    pub filter: CompiledFilter,
    /// Whether it receives changes (its connection subscribed to the collection's channel).
    pub active: bool,
    /// Which registration of its handle this is (a core numbers its registrations), so that
    /// another core's evaluation of it can be checked to be of this very filter.
    pub gen: u64,
}

impl Registered {
    /// Puts `handle`'s filter in as registration `gen`, replacing its earlier one (whose
    /// `active` state it keeps; a new one starts as `active`).
    pub fn put(&mut self, handle: usize, mut filter: CompiledFilter, active: bool, gen: u64) {
        let active = self.remove(handle).map_or(active, |old| old.active);
        let place = if filter.index_key().is_none() {
            self.paths.intern(&mut filter);
            self.tests.push(NumberTest::of(&filter));
            self.scanned.push(Sub {
                handle,
                filter,
                active,
                gen,
            });
            Place::Scanned(self.scanned.len() - 1)
        } else {
            let slot = self.keyed.insert(Sub {
                handle,
                filter,
                active,
                gen,
            });
            self.index.insert(slot, &self.keyed[slot].filter);
            Place::Keyed(slot)
        };
        self.place_of.insert(handle, place);
    }

    /// Drops `handle`'s filter and gives it back, uninterned.
    pub fn remove(&mut self, handle: usize) -> Option<Sub> {
        let mut sub = match self.place_of.remove(&handle)? {
            Place::Keyed(slot) => {
                self.index.remove(&slot);
                self.keyed.remove(slot)
            }
            Place::Scanned(pos) => {
                let sub = self.scanned.swap_remove(pos);
                self.tests.swap_remove(pos);
                if let Some(moved) = self.scanned.get(pos) {
                    self.place_of.insert(moved.handle, Place::Scanned(pos));
                }
                sub
            }
        };
        self.paths.release(&mut sub.filter);
        Some(sub)
    }

    /// `handle`'s filter, if registered.
    pub fn get(&self, handle: usize) -> Option<&Sub> {
        match *self.place_of.get(&handle)? {
            Place::Keyed(slot) => self.keyed.get(slot),
            Place::Scanned(pos) => self.scanned.get(pos),
        }
    }

    /// `handle`'s filter, if registered, to change its state.
    pub fn get_mut(&mut self, handle: usize) -> Option<&mut Sub> {
        match *self.place_of.get(&handle)? {
            Place::Keyed(slot) => self.keyed.get_mut(slot),
            Place::Scanned(pos) => self.scanned.get_mut(pos),
        }
    }

    /// Whether `handle` has a filter here.
    pub fn contains(&self, handle: usize) -> bool {
        self.place_of.contains_key(&handle)
    }

    /// Paths interned for the scanned filters.
    #[cfg(test)]
    pub fn interned_paths(&self) -> usize {
        self.paths.len()
    }

    /// Calls `send` for each active filter that receives something for `change`, with what it
    /// receives (`leaves`: whether an update that stops matching is delivered as `deleted`).
    /// Only the index's candidates are evaluated, unless `index` is false (then every filter
    /// is: the naive baseline).
    pub fn deliveries(
        &self,
        change: &Change<'_>,
        leaves: bool,
        index: bool,
        mut send: impl FnMut(&Sub, Delivery),
    ) {
        // The scanned filters' paths, looked up once for all of them.
        let resolved = self.paths.resolve_change(change);
        let mut evaluate = |sub: &Sub| {
            if !sub.active {
                return;
            }
            if let Some(d) = delivery_resolved(&sub.filter, &resolved, leaves) {
                send(sub, d);
            }
        };
        for (test, sub) in self.tests.iter().zip(&self.scanned) {
            if !test.is_some_and(|t| t.rules_out(&resolved)) {
                evaluate(sub);
            }
        }
        if !index {
            self.keyed.iter().for_each(|(_, sub)| evaluate(sub));
            return;
        }
        self.index.candidates_of_change(change, |&slot| {
            if let Some(sub) = self.keyed.get(slot) {
                evaluate(sub);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::proto::filter::index_tests::{filter_text, record};
    use crate::proto::filter::{delivery, parse, Action};

    #[derive(Debug, Clone)]
    enum Op {
        Put(usize, String, bool),
        Remove(usize),
        Activate(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0..6usize, filter_text(), any::<bool>()).prop_map(|(h, f, a)| Op::Put(h, f, a)),
            1 => (0..6usize).prop_map(Op::Remove),
            1 => (0..6usize).prop_map(Op::Activate),
        ]
    }

    fn compile(text: &str) -> CompiledFilter {
        CompiledFilter::new(None, Some(&parse(text).unwrap()), &json!({"id": "a"}))
    }

    proptest! {
        /// Whatever the filters' kinds and however they are replaced, moved and removed, the
        /// deliveries are those of evaluating every active filter against the record.
        #[test]
        fn deliveries_are_those_of_every_active_filter_evaluated(
            ops in proptest::collection::vec(op(), 0..30),
            rec in record(),
            prev in record(),
            action in 0..3usize,
            index in any::<bool>(),
        ) {
            let mut registered = Registered::default();
            let mut model: BTreeMap<usize, (CompiledFilter, bool)> = BTreeMap::new();
            for op in &ops {
                match op {
                    Op::Put(h, text, active) => {
                        registered.put(*h, compile(text), *active, 0);
                        let active = model.get(h).map_or(*active, |(_, a)| *a);
                        model.insert(*h, (compile(text), active));
                    }
                    Op::Remove(h) => {
                        prop_assert_eq!(registered.remove(*h).is_some(), model.remove(h).is_some());
                    }
                    Op::Activate(h) => {
                        if let Some(sub) = registered.get_mut(*h) {
                            sub.active = true;
                        }
                        if let Some((_, active)) = model.get_mut(h) {
                            *active = true;
                        }
                    }
                }
            }
            let change = Change {
                action: [Action::Created, Action::Updated, Action::Deleted][action],
                record: &rec,
                previous: (action == 1).then_some(&prev),
            };
            let mut got = Vec::new();
            registered.deliveries(&change, true, index, |sub, d| got.push((sub.handle, d)));
            got.sort_by_key(|(h, _)| *h);
            let want: Vec<_> = model
                .iter()
                .filter(|(_, (_, active))| *active)
                .filter_map(|(h, (f, _))| delivery(f, &change, true).map(|d| (*h, d)))
                .collect();
            prop_assert_eq!(got, want);
        }
    }
}
