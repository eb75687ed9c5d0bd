//! Evaluates a compiled filter against one record (a `serde_json::Value` parsed once per
//! change and shared by every subscriber). No allocation: paths walk borrowed maps, constants
//! and patterns live in the compiled filter, and number text for `~` sits on the stack. A
//! filter interned in a [`PathTable`](super::PathTable) reads its fields from the values the
//! table resolved once for the change ([`Resolved`]) instead of walking the record's map.
//!
//! Multi-valued sides follow PocketBase's any-of operators: an array side stands for its
//! elements (an empty array for one `null`, so `tags = ''` holds for no tags). A plain
//! operator holds when it holds for every pair of elements; a `?`-operator when it holds for
//! at least one pair. A scalar is a one-element side, so on scalars both forms agree.

use serde_json::Value;

use super::compare::{compare, Rhs};
use super::compile::{Cmp, CompiledFilter, Field, Node, Side};
use super::slots::Resolved;

static NULL: Value = Value::Null;
static ONE_NULL: [Value; 1] = [Value::Null];

impl CompiledFilter {
    /// Whether `record` passes the rule and the filter.
    pub fn matches(&self, record: &Value) -> bool {
        node(&self.root, record)
    }

    /// Whether the record `resolved` was made from passes the rule and the filter; the same
    /// answer as [`matches`](Self::matches), with the interned paths read from their slots.
    /// `resolved` must come from the table this filter was interned in.
    pub fn matches_resolved(&self, resolved: &Resolved<'_>) -> bool {
        node(&self.root, resolved.fields())
    }
}

/// Where a comparison reads the record's fields. Generic rather than one type with optional
/// slots, so that evaluating against the record alone pays nothing for slots.
pub(crate) trait Fields<'r>: Copy {
    /// `field`'s value in the record, if it has one.
    fn read(self, field: &Field) -> Option<&'r Value>;
}

/// The record alone: every field walks its path.
impl<'r> Fields<'r> for &'r Value {
    fn read(self, field: &Field) -> Option<&'r Value> {
        field.path.resolve(self)
    }
}

/// The record and the slots a [`PathTable`](super::PathTable) resolved in it.
#[derive(Clone, Copy)]
pub(crate) struct Slotted<'r> {
    pub record: &'r Value,
    pub slots: &'r [Option<&'r Value>],
}

impl<'r> Fields<'r> for Slotted<'r> {
    /// From the field's slot when it is interned, else by its path.
    fn read(self, field: &Field) -> Option<&'r Value> {
        match field.slot.and_then(|i| self.slots.get(i as usize)) {
            Some(value) => *value,
            None => field.path.resolve(self.record),
        }
    }
}

fn node<'r>(n: &'r Node, fields: impl Fields<'r>) -> bool {
    match n {
        Node::Const(b) => *b,
        Node::Cmp(c) => cmp(c, fields),
        Node::And(children) => children.iter().all(|c| node(c, fields)),
        Node::Or(children) => children.iter().any(|c| node(c, fields)),
    }
}

/// The elements a side stands for.
pub(crate) fn elements(v: &Value) -> &[Value] {
    match v {
        Value::Array(items) if items.is_empty() => &ONE_NULL,
        Value::Array(items) => items,
        scalar => std::slice::from_ref(scalar),
    }
}

fn value<'a>(side: &'a Side, fields: impl Fields<'a>) -> Rhs<'a> {
    match side {
        Side::Field(field) => Rhs::Value(fields.read(field).unwrap_or(&NULL)),
        Side::Value(v) => Rhs::Value(v),
        Side::Pattern(p) => Rhs::Pattern(p),
    }
}

/// One compiled comparison against the record's fields.
pub(crate) fn cmp<'r>(c: &'r Cmp, fields: impl Fields<'r>) -> bool {
    if let Some(outcome) = numbers(c, fields) {
        return outcome;
    }
    let Rhs::Value(left) = value(&c.left, fields) else {
        // Patterns are only ever built for the right side.
        return false;
    };
    let right = value(&c.right, fields);
    // Two scalars are one pair, so both quantifiers give that pair's outcome; most
    // comparisons are this, and it skips the iterator chain below.
    let right_scalar = match right {
        Rhs::Pattern(_) => true,
        Rhs::Value(v) => !v.is_array(),
    };
    if !left.is_array() && right_scalar {
        return compare(left, c.op, right);
    }
    let lefts = elements(left);
    match right {
        Rhs::Pattern(p) => quantify(
            c.any,
            lefts.iter().map(|l| compare(l, c.op, Rhs::Pattern(p))),
        ),
        Rhs::Value(right) => {
            let rights = elements(right);
            quantify(
                c.any,
                lefts
                    .iter()
                    .flat_map(|l| rights.iter().map(move |r| compare(l, c.op, Rhs::Value(r)))),
            )
        }
    }
}

/// The commonest comparison a scanned filter makes, a field holding a number against a
/// constant number (`seq < 10`, `total >= 100`), decided directly: what [`compare`] decides
/// for two numbers (both as 64-bit floats, never NaN from JSON), without its dispatch. `None`
/// for any other shape or value.
#[inline]
fn numbers<'r>(c: &'r Cmp, fields: impl Fields<'r>) -> Option<bool> {
    let (Side::Field(field), Side::Value(Value::Number(bound))) = (&c.left, &c.right) else {
        return None;
    };
    let Some(Value::Number(value)) = fields.read(field) else {
        return None;
    };
    super::number_test::compare_numbers(value.as_f64()?, c.op, bound.as_f64()?)
}

fn quantify(any: bool, mut outcomes: impl Iterator<Item = bool>) -> bool {
    if any {
        outcomes.any(|b| b)
    } else {
        outcomes.all(|b| b)
    }
}
