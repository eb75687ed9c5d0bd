//! A hierarchical timing wheel for the next few hours, keyed by due time in milliseconds.
//!
//! Owns the in-memory schedule of the control core: notifications claimed from the store and
//! webhook retries waiting for their delay. Insert and cancel are O(1) (a slab entry in an
//! intrusive list), `advance(now)` hands out every item due by `now` in due-time order, items
//! with equal due times in insertion order ("within one channel, notifications go out in
//! due-time order"). It never reads a clock (`now` is a parameter) and never holds anything
//! further than [`HORIZON_MS`] ahead: those stay in the store until a later claim.
//!
//! Layout: four levels of 64 slots, 1 ms, 64 ms, 4.096 s and 262.144 s per slot. An item sits on
//! the lowest level whose slot range still separates its due time from the wheel's time; when
//! the wheel's time enters a higher slot, that slot's items move down ("cascade"), so each item
//! moves at most three times. Level 0 slots hold exactly one millisecond, which is what makes the
//! output exact to the millisecond and ordered without sorting.
//!
//! Why the order is stable: all items with one due time are always in one list, in insertion
//! order. A later insert with the same due time lands in the same slot (appended) or, once that
//! slot has cascaded, in the lower slot the earlier items were moved to, again after them.

use slab::Slab;

/// Bits of due time per level: 64 slots.
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const LEVELS: usize = 4;
/// The list index of items already due when inserted (after the slot lists).
const READY: usize = LEVELS * SLOTS;
const NIL: u32 = u32::MAX;

/// How far ahead of the wheel's time an item may be due: 63 top-level slots, about 4.6 hours.
/// Keeping one top slot free is what keeps every top-level slot index unambiguous.
pub const HORIZON_MS: u64 = ((SLOTS as u64) - 1) << (SLOT_BITS * (LEVELS as u32 - 1));

/// A handle to cancel one scheduled item. Stale handles (already fired or cancelled) are inert,
/// even after their slab slot is reused, because the insertion sequence number must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId {
    key: u32,
    seq: u64,
}

/// An item refused by [`Wheel::insert`] because it is due beyond [`HORIZON_MS`]; it is handed
/// back so the caller can leave it in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooFar<T> {
    /// The refused item.
    pub item: T,
    /// Its due time, unix milliseconds.
    pub due_ms: u64,
}

struct Entry<T> {
    item: T,
    due: u64,
    seq: u64,
    prev: u32,
    next: u32,
    list: u16,
}

#[derive(Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

const EMPTY: List = List {
    head: NIL,
    tail: NIL,
};

/// The timing wheel. Times are unix milliseconds (any monotonic millisecond count works).
pub struct Wheel<T> {
    entries: Slab<Entry<T>>,
    /// `LEVELS * SLOTS` slot lists, then the ready list.
    lists: Box<[List]>,
    /// One bit per non-empty slot, per level: finding the next slot skips empty ones.
    occupied: [u64; LEVELS],
    /// Everything due at or before this has been handed out (ready items excepted).
    elapsed: u64,
    next_seq: u64,
}

impl<T> Wheel<T> {
    /// An empty wheel whose time is `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        Wheel {
            entries: Slab::new(),
            lists: vec![EMPTY; READY + 1].into_boxed_slice(),
            occupied: [0; LEVELS],
            elapsed: now_ms,
            next_seq: 0,
        }
    }

    /// Items scheduled and not yet handed out or cancelled.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The wheel's time: the `now` of the latest [`advance`](Self::advance).
    pub fn now_ms(&self) -> u64 {
        self.elapsed
    }

    /// Schedules `item` for `due_ms`. An item already due goes out at the next `advance`; one
    /// due further than [`HORIZON_MS`] ahead is handed back.
    pub fn insert(&mut self, due_ms: u64, item: T) -> Result<TimerId, TooFar<T>> {
        if due_ms > self.elapsed && due_ms - self.elapsed >= HORIZON_MS {
            return Err(TooFar { item, due_ms });
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let list = if due_ms <= self.elapsed {
            READY
        } else {
            self.slot_for(due_ms)
        };
        let key = self.entries.insert(Entry {
            item,
            due: due_ms,
            seq,
            prev: NIL,
            next: NIL,
            list: 0,
        });
        let key = u32::try_from(key).expect("fewer than 4 billion scheduled items");
        self.push_back(list, key);
        Ok(TimerId { key, seq })
    }

    /// Removes a scheduled item and returns it; `None` if it already fired or was cancelled.
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        let entry = self.entries.get(id.key as usize)?;
        if entry.seq != id.seq {
            return None;
        }
        self.unlink(id.key);
        Some(self.entries.remove(id.key as usize).item)
    }

    /// A lower bound of the next due time, for the caller's sleep: `None` when empty. It is
    /// the start of the next non-empty slot, so waking then and advancing may find nothing yet
    /// (an item on a higher level only moves down).
    pub fn next_deadline(&self) -> Option<u64> {
        if self.lists[READY].head != NIL {
            return Some(self.elapsed);
        }
        self.next_slot().map(|(_, deadline)| deadline)
    }

    /// Moves the wheel's time to `now_ms` and appends every item due by then to `out` as
    /// `(due_ms, item)`, in due-time order, equal due times in insertion order. Returns how
    /// many were appended. A `now_ms` in the past only hands out items inserted already due.
    pub fn advance(&mut self, now_ms: u64, out: &mut Vec<(u64, T)>) -> usize {
        let start = out.len();
        // Ready items were due at or before the wheel's time when inserted, so before anything
        // still on the wheel; among themselves they came in any order.
        self.drain(READY, out);
        out[start..].sort_by_key(|(due, _)| *due);
        while let Some((list, deadline)) = self.next_slot() {
            if deadline > now_ms {
                break;
            }
            self.elapsed = deadline;
            if list < SLOTS {
                self.drain(list, out);
            } else {
                self.cascade(list);
            }
        }
        self.elapsed = self.elapsed.max(now_ms);
        out.len() - start
    }

    /// The list index for an item due after the wheel's time (or exactly at it, when cascading).
    fn slot_for(&self, due: u64) -> usize {
        let diff = self.elapsed ^ due;
        let level = if diff == 0 {
            0
        } else {
            ((63 - diff.leading_zeros()) / SLOT_BITS).min(LEVELS as u32 - 1)
        };
        let slot = (due >> (level * SLOT_BITS)) as usize & (SLOTS - 1);
        level as usize * SLOTS + slot
    }

    /// The next non-empty slot and the time it starts. Lower levels always come first: a level
    /// holds only items inside the wheel's current slot of the level above.
    fn next_slot(&self) -> Option<(usize, u64)> {
        (0..LEVELS).find_map(|level| {
            let bits = self.occupied[level];
            if bits == 0 {
                return None;
            }
            let shift = level as u32 * SLOT_BITS;
            let pos = (self.elapsed >> shift) as u32 & (SLOTS as u32 - 1);
            let distance = u64::from(bits.rotate_right(pos).trailing_zeros());
            let slot = (pos as usize + distance as usize) & (SLOTS - 1);
            let slot_start = self.elapsed & !((1u64 << shift) - 1);
            Some((level * SLOTS + slot, slot_start + (distance << shift)))
        })
    }

    /// Moves a higher-level slot's items down, keeping their order.
    fn cascade(&mut self, list: usize) {
        let mut key = self.take(list);
        while key != NIL {
            let entry = &self.entries[key as usize];
            let (next, due) = (entry.next, entry.due);
            let target = self.slot_for(due);
            self.push_back(target, key);
            key = next;
        }
    }

    /// Hands a list's items out in order, freeing their entries.
    fn drain(&mut self, list: usize, out: &mut Vec<(u64, T)>) {
        let mut key = self.take(list);
        while key != NIL {
            let entry = self.entries.remove(key as usize);
            out.push((entry.due, entry.item));
            key = entry.next;
        }
    }

    /// Empties a list and returns its old head; the entries keep their `next` links.
    fn take(&mut self, list: usize) -> u32 {
        let head = self.lists[list].head;
        self.lists[list] = EMPTY;
        self.mark(list, false);
        head
    }

    fn push_back(&mut self, list: usize, key: u32) {
        let tail = self.lists[list].tail;
        let entry = &mut self.entries[key as usize];
        entry.prev = tail;
        entry.next = NIL;
        entry.list = list as u16;
        if tail == NIL {
            self.lists[list].head = key;
            self.mark(list, true);
        } else {
            self.entries[tail as usize].next = key;
        }
        self.lists[list].tail = key;
    }

    fn unlink(&mut self, key: u32) {
        let entry = &self.entries[key as usize];
        let (prev, next, list) = (entry.prev, entry.next, entry.list as usize);
        match prev {
            NIL => self.lists[list].head = next,
            p => self.entries[p as usize].next = next,
        }
        match next {
            NIL => self.lists[list].tail = prev,
            n => self.entries[n as usize].prev = prev,
        }
        if self.lists[list].head == NIL {
            self.mark(list, false);
        }
    }

    fn mark(&mut self, list: usize, occupied: bool) {
        if list == READY {
            return;
        }
        let bit = 1u64 << (list % SLOTS);
        if occupied {
            self.occupied[list / SLOTS] |= bit;
        } else {
            self.occupied[list / SLOTS] &= !bit;
        }
    }
}

#[cfg(test)]
#[path = "wheel_tests.rs"]
mod tests;
