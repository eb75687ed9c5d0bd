//! Compiles a collection's list rule and a client's filter, once per subscription, into the
//! form that is evaluated against every change.
//!
//! Compiling binds `@request.auth.*` to the subscribing connection's claims (a JSON value:
//! the JWT payload or the Sanctum user), turns field paths into pre-split segments, turns
//! constant `~` operands into LIKE patterns, and folds every comparison that no longer reads
//! the record into `true` or `false` (so `@request.auth.id != ''` costs nothing per change).
//! The rule and the filter are ANDed. Unauthenticated connections pass `null` claims; every
//! claim then reads as `null`, which equals `""` like PocketBase's empty `@request.auth.id`.
//! Nothing here parses text or touches a record.

use serde_json::Value;

use super::ast::{CmpOp, Comparison, Expr, Operand};
use super::like::LikePattern;

/// A compiled rule-and-filter, ready to evaluate against records.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledFilter {
    pub(crate) root: Node,
}

/// A node of the compiled tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// Decided at compile time.
    Const(bool),
    /// One comparison that reads the record.
    Cmp(Cmp),
    /// Every child holds.
    And(Box<[Node]>),
    /// Some child holds.
    Or(Box<[Node]>),
}

/// A compiled comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cmp {
    pub left: Side,
    pub op: CmpOp,
    pub any: bool,
    pub right: Side,
}

/// A compiled operand.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Side {
    /// A field of the record.
    Field(Field),
    /// A constant: a literal or a bound auth claim.
    Value(Value),
    /// A constant right-hand side of `~` / `!~`, as a LIKE pattern.
    Pattern(LikePattern),
}

/// A field operand: its path, and where a [`PathTable`](super::PathTable) that interned it
/// keeps the path's value for the change being evaluated.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Field {
    pub path: Path,
    /// The path's slot in the table of the collection this filter is registered in; `None`
    /// until interned (the value is then looked up in the record).
    pub slot: Option<u32>,
}

/// A dotted field path, split once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Path {
    /// The path as written (`meta.owner.id`).
    pub text: Box<str>,
    segments: Box<[Segment]>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Segment {
    key: Box<str>,
    /// The segment as an array index, when it is one.
    index: Option<usize>,
}

impl Path {
    pub fn new(text: &str) -> Self {
        let segments = text
            .split('.')
            .map(|key| Segment {
                key: key.into(),
                index: key.parse().ok(),
            })
            .collect();
        Path {
            text: text.into(),
            segments,
        }
    }

    /// The value at this path: object keys by name, array elements by a numeric segment.
    pub fn resolve<'a>(&self, mut value: &'a Value) -> Option<&'a Value> {
        for segment in self.segments.iter() {
            value = match value {
                Value::Object(map) => map.get(&*segment.key)?,
                Value::Array(items) => items.get(segment.index?)?,
                _ => return None,
            };
        }
        Some(value)
    }
}

impl CompiledFilter {
    /// Compiles `rule && filter` for a connection with these claims. Either part may be
    /// absent; with neither, every record matches.
    pub fn new(rule: Option<&Expr>, filter: Option<&Expr>, claims: &Value) -> Self {
        let parts: Vec<Node> = [rule, filter]
            .into_iter()
            .flatten()
            .map(|e| lower(e, claims))
            .collect();
        CompiledFilter {
            root: simplify_and(parts),
        }
    }

    /// `Some(answer)` when the filter does not depend on the record at all.
    pub fn constant(&self) -> Option<bool> {
        match self.root {
            Node::Const(b) => Some(b),
            _ => None,
        }
    }
}

fn lower(expr: &Expr, claims: &Value) -> Node {
    match expr {
        Expr::Cmp(c) => lower_cmp(c, claims),
        Expr::And(children) => simplify_and(children.iter().map(|e| lower(e, claims)).collect()),
        Expr::Or(children) => simplify_or(children.iter().map(|e| lower(e, claims)).collect()),
    }
}

fn lower_cmp(c: &Comparison, claims: &Value) -> Node {
    let left = side(&c.left, claims);
    let mut right = side(&c.right, claims);
    if matches!(c.op, CmpOp::Like | CmpOp::NotLike) {
        if let Side::Value(v @ (Value::String(_) | Value::Number(_))) = &right {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            right = Side::Pattern(LikePattern::from_constant(&text));
        }
    }
    let cmp = Cmp {
        left,
        op: c.op,
        any: c.any,
        right,
    };
    let reads_record = |s: &Side| matches!(s, Side::Field(_));
    if reads_record(&cmp.left) || reads_record(&cmp.right) {
        Node::Cmp(cmp)
    } else {
        Node::Const(super::eval::cmp(&cmp, &Value::Null))
    }
}

fn side(operand: &Operand, claims: &Value) -> Side {
    Side::Value(match operand {
        Operand::Field(path) => {
            return Side::Field(Field {
                path: Path::new(path),
                slot: None,
            })
        }
        Operand::Auth(path) => claim(claims, path).cloned().unwrap_or(Value::Null),
        Operand::Str(s) => Value::String(s.clone()),
        Operand::Num(n) => number(*n),
        Operand::Bool(b) => Value::Bool(*b),
        Operand::Null => Value::Null,
    })
}

/// A claim by path. `id` falls back to `sub`: a Sanctum user carries `id`, a JWT names its
/// subject `sub`, and rules are written against `@request.auth.id` either way.
fn claim<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    let found = Path::new(path).resolve(claims);
    match found {
        None if path == "id" => claims.get("sub"),
        found => found,
    }
}

/// A literal number as JSON: integral values as integers, so that `~ 5` reads the text `5`
/// (as PocketBase's string cast of the float does) rather than `5.0`.
fn number(n: f64) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if n.fract() == 0.0 && n.abs() < EXACT {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

fn simplify_and(children: Vec<Node>) -> Node {
    simplify(children, true)
}

fn simplify_or(children: Vec<Node>) -> Node {
    simplify(children, false)
}

/// Drops children that cannot change the result, short-circuits on one that decides it, and
/// splices children of the same kind. `is_and` picks the identity (`true` for AND).
fn simplify(children: Vec<Node>, is_and: bool) -> Node {
    let mut kept = Vec::with_capacity(children.len());
    for child in children {
        match child {
            Node::Const(b) if b == is_and => {}
            Node::Const(b) => return Node::Const(b),
            Node::And(grand) if is_and => kept.extend(grand.into_vec()),
            Node::Or(grand) if !is_and => kept.extend(grand.into_vec()),
            other => kept.push(other),
        }
    }
    match kept.len() {
        0 => Node::Const(is_and),
        1 => kept.pop().unwrap_or(Node::Const(is_and)),
        _ if is_and => Node::And(kept.into_boxed_slice()),
        _ => Node::Or(kept.into_boxed_slice()),
    }
}
