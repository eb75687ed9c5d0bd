//! A shortcut for the commonest filter an index cannot key: one field against a constant
//! number (`seq < 10`, `price >= 100`, `score != 0`).
//!
//! A collection's scanned filters are all evaluated on every change, and most of the ones
//! that do not match are cheap to rule out: the field's value, resolved once per change into
//! its slot, against the bound. A [`NumberTest`] is that comparison with nothing else, small
//! enough to keep beside its filter in a dense array, so a core walks 16 bytes per filter
//! instead of the whole compiled tree. It only ever rules a filter *out*: when the field does
//! not hold a number (a string, `null`, an array) it cannot tell, and the filter is evaluated
//! in full, with the semantics of `compare`.

use serde_json::Value;

use super::ast::CmpOp;
use super::compile::{Cmp, CompiledFilter, Field, Node, Side};
use super::delivery::Action;
use super::slots::{Resolved, ResolvedChange};

/// `field op bound` for an interned field and a constant number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumberTest {
    slot: u32,
    op: CmpOp,
    bound: f64,
}

impl NumberTest {
    /// `filter` as a test, when it is exactly one comparison of an interned field (see
    /// [`PathTable::intern`](super::PathTable::intern)) with a number by `= != > >= < <=`.
    /// The any-of forms are the same test: on a number both quantifiers agree.
    pub fn of(filter: &CompiledFilter) -> Option<NumberTest> {
        let Node::Cmp(Cmp {
            left: Side::Field(Field {
                slot: Some(slot), ..
            }),
            op,
            right: Side::Value(Value::Number(bound)),
            ..
        }) = &filter.root
        else {
            return None;
        };
        if !matches!(
            op,
            CmpOp::Eq | CmpOp::Ne | CmpOp::Gt | CmpOp::Ge | CmpOp::Lt | CmpOp::Le
        ) {
            return None;
        }
        Some(NumberTest {
            slot: *slot,
            op: *op,
            bound: bound.as_f64()?,
        })
    }

    /// Whether the record passes, when its field holds a number; `None` when it does not.
    #[inline]
    fn passes(&self, resolved: &Resolved<'_>) -> Option<bool> {
        let Some(Value::Number(n)) = resolved.slot(self.slot) else {
            return None;
        };
        compare_numbers(n.as_f64()?, self.op, self.bound)
    }

    /// Whether this test's filter surely delivers nothing for `change`: it fails on the
    /// record and, for an update that carries the previous record, on that one too (else a
    /// leave could be due). `false` when it cannot tell; the filter is then evaluated in full.
    #[inline]
    pub fn rules_out(&self, change: &ResolvedChange<'_>) -> bool {
        let fails = |resolved: &Resolved<'_>| self.passes(resolved) == Some(false);
        fails(change.record())
            && match (change.action(), change.previous()) {
                (Action::Updated, Some(previous)) => fails(previous),
                _ => true,
            }
    }
}

/// `x op y` for two numbers, as `compare` decides it for them (both 64-bit floats, never NaN
/// from JSON); `None` for an operator that is not an equality or an order.
#[inline]
pub(crate) fn compare_numbers(x: f64, op: CmpOp, y: f64) -> Option<bool> {
    Some(match op {
        CmpOp::Eq => x == y,
        CmpOp::Ne => x != y,
        CmpOp::Gt => x > y,
        CmpOp::Ge => x >= y,
        CmpOp::Lt => x < y,
        CmpOp::Le => x <= y,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::proto::filter::index_tests::action;
    use crate::proto::filter::{delivery_resolved, parse, Change, PathTable};

    fn interned(text: &str, table: &mut PathTable) -> CompiledFilter {
        let mut f = CompiledFilter::new(None, Some(&parse(text).unwrap()), &json!({"n": 3}));
        table.intern(&mut f);
        f
    }

    #[test]
    fn only_one_interned_number_comparison_is_a_test() {
        let mut table = PathTable::new();
        for text in ["seq < 3", "seq ?>= -1.5", "n != 0", "n = @request.auth.n"] {
            assert!(
                NumberTest::of(&interned(text, &mut table)).is_some(),
                "{text}"
            );
        }
        for text in ["seq < 3 && n > 1", "s = 'a'", "n ~ 3", "3 > n", "n = true"] {
            assert!(
                NumberTest::of(&interned(text, &mut table)).is_none(),
                "{text}"
            );
        }
        let detached = CompiledFilter::new(None, Some(&parse("seq < 3").unwrap()), &json!(null));
        assert!(
            NumberTest::of(&detached).is_none(),
            "not interned: no slot to read"
        );
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            (-5i64..5).prop_map(|n| json!(n)),
            (-5.0f64..5.0).prop_map(|x| json!(x)),
            Just(json!(null)),
            Just(json!("2")),
            Just(json!(true)),
            Just(json!([1, 3])),
            Just(json!([])),
        ]
    }

    proptest! {
        /// A test never rules out a filter that delivers something, whatever the values,
        /// operators and actions; and it does rule out plain numbers that fail.
        #[test]
        fn a_test_rules_out_only_what_delivers_nothing(
            op in prop_oneof![Just("="), Just("!="), Just(">"), Just(">="), Just("<"), Just("<="), Just("?>")],
            bound in -4i64..4,
            now in value(),
            before in proptest::option::of(value()),
            action in action(),
            leaves in any::<bool>(),
        ) {
            let mut table = PathTable::new();
            let filter = interned(&format!("x {op} {bound}"), &mut table);
            let test = NumberTest::of(&filter).expect("a number test");
            let (record, previous) = (json!({"x": now}), before.map(|b| json!({"x": b})));
            let change = Change { action, record: &record, previous: previous.as_ref() };
            let resolved = table.resolve_change(&change);
            if test.rules_out(&resolved) {
                prop_assert_eq!(delivery_resolved(&filter, &resolved, leaves), None);
            }
            let fails = |v: &Value| v.is_number() && !filter.matches(&json!({"x": v}));
            let previous_fails = previous.as_ref().is_none_or(|p| fails(&p["x"]));
            if fails(&record["x"]) && (action != Action::Updated || previous_fails) {
                prop_assert!(test.rules_out(&resolved));
            }
        }
    }
}
