//! The inverted index over subscriptions: one change costs in proportion to the subscribers it
//! may match, not to the subscriptions of the collection.
//!
//! Each compiled filter offers at most one index key: an equality `field = constant` or
//! `field ?= constant` (auth claims are constants by then) that every matching record must
//! satisfy. It is taken from the top-level AND; an OR offers a key only when all its branches
//! share it, so a top-level OR without a common conjunct is scanned. A record's value at an
//! indexed path names the one bucket to look in (for an array, one bucket per distinct
//! element: `=` on an array requires every element to equal the constant, `?=` one of them,
//! and in both cases the constant is among the elements). `null` and `""` are never keys:
//! `field = ''` also matches records without the field, which have no value to look up.
//!
//! The index is pure and generic over the subscriber handle; it stores no filters, and keeps
//! keys only as hashes (see `buckets`: two keys that collide add a candidate, never lose one).
//! Callers evaluate each candidate (see [`FilterIndex::candidates`]). For an update, the candidates of
//! the old and of the new record are both needed, because a leave matched only the old one:
//! [`FilterIndex::candidates_of_change`] yields their union.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use serde_json::Value;

use super::ast::CmpOp;
use super::buckets::Buckets;
use super::compile::{Cmp, CompiledFilter, Node, Path, Side};
use super::delivery::{Action, Change};
use super::eval::elements;

/// The constant half of an index key, normalized like `=` compares: booleans as the numbers
/// 1 and 0, numbers by their float bits with `-0` as `0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum KeyRef<'a> {
    Str(&'a str),
    Num(u64),
}

fn key_of(v: &Value) -> Option<KeyRef<'_>> {
    match v {
        Value::String(s) if !s.is_empty() => Some(KeyRef::Str(s)),
        Value::Number(_) | Value::Bool(_) => {
            let x = super::compare::numeric(v)?;
            Some(KeyRef::Num(if x == 0.0 { 0 } else { x.to_bits() }))
        }
        _ => None,
    }
}

/// The equality a filter is indexed by: a field path and a constant.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexKey<'a> {
    path: &'a Path,
    value: KeyRef<'a>,
}

impl IndexKey<'_> {
    /// The field path, as written in the filter.
    pub fn path(&self) -> &str {
        &self.path.text
    }
}

impl CompiledFilter {
    /// The equality this filter is indexed under, or `None` when it must be scanned.
    pub fn index_key(&self) -> Option<IndexKey<'_>> {
        keys(&self.root).into_iter().next()
    }
}

/// Every key some conjunct of `node` offers: each one holds for every record `node` matches.
fn keys(node: &Node) -> Vec<IndexKey<'_>> {
    match node {
        Node::Const(_) => Vec::new(),
        Node::Cmp(c) => cmp_key(c).into_iter().collect(),
        Node::And(children) => children.iter().flat_map(keys).collect(),
        Node::Or(children) => {
            let Some((first, rest)) = children.split_first() else {
                return Vec::new();
            };
            let mut common = keys(first);
            for other in rest {
                let theirs = keys(other);
                common.retain(|k| theirs.contains(k));
            }
            common
        }
    }
}

fn cmp_key(c: &Cmp) -> Option<IndexKey<'_>> {
    if c.op != CmpOp::Eq {
        return None;
    }
    let (path, constant) = match (&c.left, &c.right) {
        (Side::Field(f), Side::Value(v)) | (Side::Value(v), Side::Field(f)) => (&f.path, v),
        _ => return None,
    };
    Some(IndexKey {
        path,
        value: key_of(constant)?,
    })
}

struct PathIndex<H> {
    path: Path,
    /// Subscribers by their key's hash (see `buckets`).
    buckets: Buckets<H>,
}

/// Where a subscriber is registered.
enum Slot {
    Scan,
    Keyed { path: usize, hash: u64 },
}

/// Subscribers of one collection, by index key, plus the ones that must be scanned.
pub struct FilterIndex<H> {
    paths: Vec<PathIndex<H>>,
    scan: Vec<H>,
    slots: HashMap<H, Slot>,
}

impl<H: Clone + Eq + Hash> Default for FilterIndex<H> {
    fn default() -> Self {
        FilterIndex {
            paths: Vec::new(),
            scan: Vec::new(),
            slots: HashMap::new(),
        }
    }
}

impl<H: Clone + Eq + Hash> FilterIndex<H> {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handle` under `filter`'s key (or for scanning), replacing an earlier
    /// registration of the same handle.
    pub fn insert(&mut self, handle: H, filter: &CompiledFilter) {
        self.remove(&handle);
        let slot = match filter.index_key() {
            None => {
                self.scan.push(handle.clone());
                Slot::Scan
            }
            Some(key) => {
                let path = self.path_slot(key.path);
                let buckets = &mut self.paths[path].buckets;
                let hash = buckets.hash_of(key.value);
                buckets.insert(hash, handle.clone());
                Slot::Keyed { path, hash }
            }
        };
        self.slots.insert(handle, slot);
    }

    fn path_slot(&mut self, path: &Path) -> usize {
        if let Some(i) = self.paths.iter().position(|p| p.path == *path) {
            return i;
        }
        self.paths.push(PathIndex {
            path: path.clone(),
            buckets: Buckets::default(),
        });
        self.paths.len() - 1
    }

    /// Unregisters `handle`; false if it was not registered.
    pub fn remove(&mut self, handle: &H) -> bool {
        let Some(slot) = self.slots.remove(handle) else {
            return false;
        };
        match slot {
            Slot::Scan => take(&mut self.scan, handle),
            Slot::Keyed { path, hash } => self.paths[path].buckets.remove(hash, handle),
        }
        true
    }

    /// Registered subscribers.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no subscriber is registered.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Subscribers without an index key.
    pub fn scan_len(&self) -> usize {
        self.scan.len()
    }

    /// Calls `visit` once for every subscriber whose filter may match `record`: the bucket of
    /// each indexed path's value, then the scan list. Every true match is visited; a visited
    /// subscriber still has to be evaluated.
    pub fn candidates(&self, record: &Value, mut visit: impl FnMut(&H)) {
        for index in &self.paths {
            each_hash(index, record, |hash| {
                index.buckets.get(hash).iter().for_each(&mut visit)
            });
        }
        self.scan.iter().for_each(visit);
    }

    /// Calls `visit` once for every subscriber that may receive something for `change`: the
    /// candidates of the record, and for an update also those of the previous record (a
    /// leave matches only the old one). Each is visited once, without allocating a set.
    pub fn candidates_of_change(&self, change: &Change<'_>, mut visit: impl FnMut(&H)) {
        self.candidates(change.record, &mut visit);
        let Some(previous) = change.previous.filter(|_| change.action == Action::Updated) else {
            return;
        };
        for index in &self.paths {
            let mut seen = Seen::default();
            each_hash(index, change.record, |hash| {
                seen.first(hash);
            });
            each_hash(index, previous, |hash| {
                // A bucket the new record also names was visited above.
                if seen.first(hash) {
                    index.buckets.get(hash).iter().for_each(&mut visit);
                }
            });
        }
    }
}

/// Calls `f` once per distinct bucket hash among the keys of `record`'s elements at `index`'s
/// path. Distinct by hash, not by key: two keys that collide name one bucket, which is then
/// visited once.
fn each_hash<H: Clone + Eq>(index: &PathIndex<H>, record: &Value, mut f: impl FnMut(u64)) {
    let Some(value) = index.path.resolve(record) else {
        return;
    };
    let mut seen = Seen::default();
    for key in elements(value).iter().filter_map(key_of) {
        let hash = index.buckets.hash_of(key);
        if seen.first(hash) {
            f(hash);
        }
    }
}

/// Bucket hashes met so far: the first 16 on the stack (a scalar, or a short array, the common
/// case), past that in a set (a long array: rare, and it allocates).
#[derive(Default)]
struct Seen {
    few: [u64; 16],
    len: usize,
    many: Option<HashSet<u64>>,
}

impl Seen {
    /// Records `hash`; whether it is met for the first time.
    fn first(&mut self, hash: u64) -> bool {
        if let Some(set) = &mut self.many {
            return set.insert(hash);
        }
        if self.few[..self.len].contains(&hash) {
            return false;
        }
        if let Some(slot) = self.few.get_mut(self.len) {
            *slot = hash;
            self.len += 1;
        } else {
            let mut set: HashSet<u64> = self.few.iter().copied().collect();
            set.insert(hash);
            self.many = Some(set);
        }
        true
    }
}

fn take<H: Eq>(list: &mut Vec<H>, handle: &H) {
    if let Some(i) = list.iter().position(|h| h == handle) {
        list.swap_remove(i);
    }
}

#[cfg(test)]
mod tests {
    use super::Seen;

    #[test]
    fn seen_keeps_each_hash_once_on_the_stack_and_past_it() {
        let mut seen = Seen::default();
        for round in 0..2 {
            for h in 0..40u64 {
                assert_eq!(seen.first(h * 7), round == 0, "hash {h} in round {round}");
            }
        }
        assert!(seen.many.is_some(), "40 hashes spill into the set");
    }
}
