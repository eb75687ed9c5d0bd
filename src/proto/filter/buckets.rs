//! The index's buckets: subscribers by the 64-bit hash of their index key, not by the key.
//!
//! Why the hash and not the key: a change looks a key up in a table of thousands (one bucket
//! per distinct `owner`), and each step that leaves the table's own memory is a cache miss.
//! Keyed by text, a lookup read the table's control bytes, the entry, the key's bytes behind
//! their pointer and the bucket's list behind its own. Keyed by hash, with a lone subscriber
//! stored inline, it reads the control bytes and the entry. Two keys with the same hash share
//! a bucket, which only adds a candidate: candidates are evaluated anyway, so the index still
//! visits every match. The hash is keyed per table (SipHash with a random key, as `HashMap`
//! uses), so clients that pick their filters cannot pick colliding ones.
//!
//! Not keeping the keys also spares two string copies per registered subscription.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

/// One table of buckets.
pub(crate) struct Buckets<H> {
    by_hash: HashMap<u64, Bucket<H>, BuildHasherDefault<Prehashed>>,
    keys: RandomState,
}

/// The subscribers of one hash: one inline (the common case of a distinct key), or a list.
enum Bucket<H> {
    One(H),
    Many(Vec<H>),
}

impl<H> Default for Buckets<H> {
    fn default() -> Self {
        Buckets {
            by_hash: HashMap::default(),
            keys: RandomState::new(),
        }
    }
}

impl<H: Clone + Eq> Buckets<H> {
    /// The hash `key` is filed under in this table.
    pub fn hash_of(&self, key: impl Hash) -> u64 {
        self.keys.hash_one(key)
    }

    /// Files `handle` under `hash`.
    pub fn insert(&mut self, hash: u64, handle: H) {
        use std::collections::hash_map::Entry;
        match self.by_hash.entry(hash) {
            Entry::Vacant(v) => {
                v.insert(Bucket::One(handle));
            }
            Entry::Occupied(mut o) => {
                let bucket = o.get_mut();
                match bucket {
                    Bucket::One(first) => *bucket = Bucket::Many(vec![first.clone(), handle]),
                    Bucket::Many(list) => list.push(handle),
                }
            }
        }
    }

    /// Takes `handle` out of `hash`'s bucket, dropping the bucket once empty.
    pub fn remove(&mut self, hash: u64, handle: &H) {
        let Some(bucket) = self.by_hash.get_mut(&hash) else {
            return;
        };
        let empty = match bucket {
            Bucket::One(h) => h == handle,
            Bucket::Many(list) => {
                if let Some(i) = list.iter().position(|h| h == handle) {
                    list.swap_remove(i);
                }
                list.is_empty()
            }
        };
        if empty {
            self.by_hash.remove(&hash);
        }
    }

    /// The subscribers filed under `hash`.
    #[inline]
    pub fn get(&self, hash: u64) -> &[H] {
        match self.by_hash.get(&hash) {
            None => &[],
            Some(Bucket::One(h)) => std::slice::from_ref(h),
            Some(Bucket::Many(list)) => list,
        }
    }
}

/// The table's own hasher for keys that are hashes already: it passes the `u64` through.
#[derive(Default)]
pub(crate) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    /// Only `u64`s are hashed here; anything else is folded in rather than refused.
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_one_inline_then_a_list_and_drop_when_empty() {
        let mut b = Buckets::default();
        let (x, y) = (b.hash_of("x"), b.hash_of("y"));
        assert_ne!(x, y);
        b.insert(x, 1);
        assert_eq!(b.get(x), [1]);
        b.insert(x, 2);
        b.insert(x, 3);
        assert_eq!(b.get(x), [1, 2, 3]);
        assert!(b.get(y).is_empty());
        b.remove(x, &1);
        assert_eq!(b.get(x), [3, 2]);
        b.remove(x, &9);
        b.remove(x, &2);
        b.remove(x, &3);
        assert!(b.get(x).is_empty());
        assert!(b.by_hash.is_empty(), "an empty bucket is dropped");
        b.insert(y, 7);
        b.remove(y, &8);
        assert_eq!(b.get(y), [7], "another handle is not removed");
    }

    #[test]
    fn a_hash_collision_shares_a_bucket() {
        let mut b = Buckets::default();
        b.insert(5, 'a');
        b.insert(5, 'b');
        assert_eq!(b.get(5), ['a', 'b']);
    }
}
