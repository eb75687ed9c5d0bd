//! Field paths resolved once per change for every filter that reads them.
//!
//! The filters a collection's index cannot key are all evaluated on every change, and many of
//! them read the same fields (`seq`, `status`, `meta.owner`): walking the record's map once per
//! filter and field would repeat the same key comparisons for each. A [`PathTable`] interns the
//! paths of such filters (one table per collection per core): each distinct path gets a slot,
//! and each field operand of an interned filter remembers its slot. Per change,
//! [`PathTable::resolve`] looks every live path up in the record once, into a [`Resolved`]
//! slot vector, and [`CompiledFilter::matches_resolved`] reads the slots.
//!
//! Paths are counted per field operand that reads them; releasing a filter frees the slots no
//! other interned filter reads, and freed slots are reused, so the table holds only the paths
//! of the filters registered now (bounded by their number and their 64 nodes each).

use std::collections::HashMap;

use serde_json::Value;

use super::compile::{CompiledFilter, Field, Node, Path, Side};
use super::delivery::{decide, Action, Change, Delivery};
use super::eval::Slotted;

/// The interned paths of one collection's scanned filters.
#[derive(Debug, Default)]
pub struct PathTable {
    /// By slot; a slot with no reader is free and resolves to nothing.
    entries: Vec<Entry>,
    /// The slot of each interned path, by its text.
    by_text: HashMap<Box<str>, u32>,
    /// Slots with no reader, reused before the table grows.
    free: Vec<u32>,
}

#[derive(Debug)]
struct Entry {
    path: Path,
    /// Field operands of interned filters that read this slot.
    readers: usize,
}

/// A record with a table's paths looked up in it, one value (or none) per slot.
#[derive(Debug)]
pub struct Resolved<'r> {
    record: &'r Value,
    slots: Slots<'r>,
}

/// Slots kept inline up to this many, so resolving a change allocates nothing in the common
/// case of a few distinct paths.
const INLINE: usize = 8;

#[derive(Debug)]
enum Slots<'r> {
    Inline([Option<&'r Value>; INLINE], usize),
    Heap(Vec<Option<&'r Value>>),
}

impl<'r> Resolved<'r> {
    /// The value at slot `slot`, if the record has one there.
    #[inline]
    pub(crate) fn slot(&self, slot: u32) -> Option<&'r Value> {
        let slots = match &self.slots {
            Slots::Inline(values, len) => &values[..*len],
            Slots::Heap(values) => values,
        };
        *slots.get(slot as usize)?
    }

    pub(crate) fn fields(&self) -> Slotted<'_> {
        let slots = match &self.slots {
            Slots::Inline(values, len) => &values[..*len],
            Slots::Heap(values) => values,
        };
        Slotted {
            record: self.record,
            slots,
        }
    }
}

/// A change with its record, and the previous record of an update, resolved.
#[derive(Debug)]
pub struct ResolvedChange<'r> {
    change: Change<'r>,
    record: Resolved<'r>,
    previous: Option<Resolved<'r>>,
}

impl<'r> ResolvedChange<'r> {
    pub(crate) fn action(&self) -> Action {
        self.change.action
    }

    pub(crate) fn record(&self) -> &Resolved<'r> {
        &self.record
    }

    pub(crate) fn previous(&self) -> Option<&Resolved<'r>> {
        self.previous.as_ref()
    }
}

impl PathTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives every field operand of `filter` its path's slot, interning the paths not held
    /// yet. The filter must be [`release`](Self::release)d from this table before it is
    /// dropped or interned elsewhere, or its paths stay resolved for nothing.
    pub fn intern(&mut self, filter: &mut CompiledFilter) {
        each_field(&mut filter.root, &mut |field| {
            let slot = self.slot_for(&field.path);
            self.entries[slot as usize].readers += 1;
            field.slot = Some(slot);
        });
    }

    /// Undoes [`intern`](Self::intern): the filter reads its record again, and the paths no
    /// other filter reads are freed.
    pub fn release(&mut self, filter: &mut CompiledFilter) {
        each_field(&mut filter.root, &mut |field| {
            let Some(slot) = field.slot.take() else {
                return;
            };
            let entry = &mut self.entries[slot as usize];
            entry.readers -= 1;
            if entry.readers == 0 {
                self.by_text.remove(&entry.path.text);
                self.free.push(slot);
            }
        });
    }

    /// Paths interned and read by some filter.
    pub fn len(&self) -> usize {
        self.by_text.len()
    }

    /// Whether no path is interned.
    pub fn is_empty(&self) -> bool {
        self.by_text.is_empty()
    }

    fn slot_for(&mut self, path: &Path) -> u32 {
        if let Some(&slot) = self.by_text.get(&path.text) {
            return slot;
        }
        let entry = Entry {
            path: path.clone(),
            readers: 0,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.entries[slot as usize] = entry;
                slot
            }
            None => {
                self.entries.push(entry);
                // At most 64 nodes per filter and 1,000 filters per connection bound the
                // paths far below u32's range.
                u32::try_from(self.entries.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.by_text.insert(path.text.clone(), slot);
        slot
    }

    /// Looks every interned path up in `record`, once. Allocates only past [`INLINE`] slots.
    pub fn resolve<'r>(&self, record: &'r Value) -> Resolved<'r> {
        let values = self.entries.iter().map(|e| match e.readers {
            0 => None,
            _ => e.path.resolve(record),
        });
        let slots = if self.entries.len() <= INLINE {
            let mut inline = [None; INLINE];
            inline.iter_mut().zip(values).for_each(|(s, v)| *s = v);
            Slots::Inline(inline, self.entries.len())
        } else {
            Slots::Heap(values.collect())
        };
        Resolved { record, slots }
    }

    /// Resolves `change`'s record, and the previous record of an update.
    pub fn resolve_change<'r>(&self, change: &Change<'r>) -> ResolvedChange<'r> {
        ResolvedChange {
            change: *change,
            record: self.resolve(change.record),
            previous: change.previous.map(|p| self.resolve(p)),
        }
    }
}

impl CompiledFilter {
    /// A copy that reads its record itself, whichever table this one is interned in: what
    /// another core interns in a table of its own.
    pub fn detached(&self) -> CompiledFilter {
        let mut copy = self.clone();
        each_field(&mut copy.root, &mut |field| field.slot = None);
        copy
    }
}

/// What `filter`'s subscriber receives for `change`, as [`delivery`](super::delivery) decides,
/// with the interned paths read from the resolved slots. `change` must come from the table
/// `filter` was interned in (or `filter` must not be interned).
#[inline]
pub fn delivery_resolved(
    filter: &CompiledFilter,
    change: &ResolvedChange<'_>,
    leaves: bool,
) -> Option<Delivery> {
    decide(
        change.change.action,
        filter.matches_resolved(&change.record),
        || change.previous.as_ref().map(|p| filter.matches_resolved(p)),
        leaves,
    )
}

/// Calls `f` on every field operand of the tree.
fn each_field(node: &mut Node, f: &mut impl FnMut(&mut Field)) {
    match node {
        Node::Const(_) => {}
        Node::Cmp(c) => {
            for side in [&mut c.left, &mut c.right] {
                if let Side::Field(field) = side {
                    f(field);
                }
            }
        }
        Node::And(children) | Node::Or(children) => {
            children.iter_mut().for_each(|child| each_field(child, f))
        }
    }
}
