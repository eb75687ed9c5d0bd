//! The timing wheel against hand-picked cases and, by proptest, against a `BTreeMap` model.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn fire<T>(wheel: &mut Wheel<T>, now: u64) -> Vec<(u64, T)> {
    let mut out = Vec::new();
    let n = wheel.advance(now, &mut out);
    assert_eq!(n, out.len());
    out
}

#[test]
fn items_fire_at_their_millisecond_in_due_order() {
    let mut w = Wheel::new(1_000);
    for (due, name) in [(1_500, "b"), (1_001, "a"), (70_000, "d"), (5_000, "c")] {
        w.insert(due, name).unwrap();
    }
    assert_eq!(w.len(), 4);
    assert!(fire(&mut w, 1_000).is_empty());
    assert_eq!(fire(&mut w, 1_499), vec![(1_001, "a")]);
    assert_eq!(fire(&mut w, 1_500), vec![(1_500, "b")]);
    assert_eq!(fire(&mut w, 69_999), vec![(5_000, "c")]);
    assert_eq!(fire(&mut w, 100_000), vec![(70_000, "d")]);
    assert!(w.is_empty());
    assert_eq!(w.now_ms(), 100_000);
}

#[test]
fn equal_due_times_keep_insertion_order_across_cascades() {
    let mut w = Wheel::new(0);
    let due = 300_000; // on the top level at first
    w.insert(due, 1).unwrap();
    fire(&mut w, 262_144); // the top slot has cascaded
    w.insert(due, 2).unwrap();
    fire(&mut w, 299_990); // and the next ones down
    w.insert(due, 3).unwrap();
    w.insert(due - 1, 0).unwrap();
    assert_eq!(
        fire(&mut w, due),
        vec![(due - 1, 0), (due, 1), (due, 2), (due, 3)]
    );
}

#[test]
fn overdue_items_go_out_first_sorted_by_due() {
    let mut w = Wheel::new(10_000);
    w.insert(10_005, "later").unwrap();
    w.insert(9_000, "x").unwrap();
    w.insert(5_000, "y").unwrap();
    w.insert(9_000, "z").unwrap();
    assert_eq!(w.next_deadline(), Some(10_000));
    assert_eq!(
        fire(&mut w, 10_000),
        vec![(5_000, "y"), (9_000, "x"), (9_000, "z")]
    );
    // A clock that went back hands out nothing new and keeps the wheel's time.
    assert!(fire(&mut w, 9_000).is_empty());
    assert_eq!(fire(&mut w, 10_005), vec![(10_005, "later")]);
}

#[test]
fn cancel_removes_once_and_stale_handles_are_inert() {
    let mut w = Wheel::new(0);
    let a = w.insert(100, "a").unwrap();
    let b = w.insert(100, "b").unwrap();
    let c = w.insert(100, "c").unwrap();
    assert_eq!(w.cancel(b), Some("b"));
    assert_eq!(w.cancel(b), None);
    assert_eq!(fire(&mut w, 100), vec![(100, "a"), (100, "c")]);
    assert_eq!(w.cancel(a), None);
    // The slab slot of `c` is reused; the old handle must not reach the new item.
    let d = w.insert(200, "d").unwrap();
    assert_eq!(w.cancel(c), None);
    assert_eq!(w.cancel(d), Some("d"));
    assert!(w.is_empty());
    assert_eq!(w.next_deadline(), None);
}

#[test]
fn the_horizon_is_enforced_and_the_item_handed_back() {
    let mut w = Wheel::new(1_000);
    let too_far = w.insert(1_000 + HORIZON_MS, "far").unwrap_err();
    assert_eq!(
        too_far,
        TooFar {
            item: "far",
            due_ms: 1_000 + HORIZON_MS
        }
    );
    w.insert(1_000 + HORIZON_MS - 1, "edge").unwrap();
    assert_eq!(
        fire(&mut w, 1_000 + HORIZON_MS),
        vec![(1_000 + HORIZON_MS - 1, "edge")]
    );
}

#[test]
fn next_deadline_is_a_lower_bound_of_the_next_due_time() {
    let mut w = Wheel::new(0);
    w.insert(5_000, ()).unwrap();
    let d = w.next_deadline().unwrap();
    assert!(d <= 5_000 && d > 0, "{d}");
    // Advancing to each announced deadline reaches the item without skipping it.
    let mut now = 0;
    let mut got = Vec::new();
    while let Some(d) = w.next_deadline() {
        assert!(d >= now);
        now = d;
        got.extend(fire(&mut w, now));
    }
    assert_eq!(got, vec![(5_000, ())]);
    assert_eq!(now, 5_000);
}

#[derive(Debug, Clone)]
enum Op {
    /// Insert due at the wheel's time plus this offset (negative: already due).
    Insert(i64),
    /// Cancel the n-th handle handed out so far (modulo their count).
    Cancel(usize),
    /// Advance by this many milliseconds.
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (-2_000i64..20_000).prop_map(Op::Insert),
        1 => (-1i64..(HORIZON_MS as i64 + 10)).prop_map(Op::Insert),
        2 => any::<usize>().prop_map(Op::Cancel),
        3 => prop_oneof![0u64..70, 0u64..5_000, 0u64..400_000, 0u64..20_000_000]
            .prop_map(Op::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn matches_a_sorted_map(start in 0u64..1u64 << 40, ops in prop::collection::vec(op(), 1..200)) {
        let mut wheel = Wheel::new(start);
        // The model: (due, insertion number) -> item; the key order is the promised order.
        let mut model: BTreeMap<(u64, u64), u64> = BTreeMap::new();
        let mut handles: Vec<(TimerId, (u64, u64))> = Vec::new();
        let (mut now, mut n) = (start, 0u64);
        for op in ops {
            match op {
                Op::Insert(offset) => {
                    let due = now.saturating_add_signed(offset);
                    n += 1;
                    match wheel.insert(due, n) {
                        Ok(id) => {
                            prop_assert!(due < now + HORIZON_MS);
                            model.insert((due, n), n);
                            handles.push((id, (due, n)));
                        }
                        Err(far) => {
                            prop_assert!(due >= now + HORIZON_MS);
                            prop_assert_eq!(far.item, n);
                        }
                    }
                }
                Op::Cancel(i) if !handles.is_empty() => {
                    let (id, key) = handles[i % handles.len()];
                    prop_assert_eq!(wheel.cancel(id), model.remove(&key));
                }
                Op::Cancel(_) => {}
                Op::Advance(by) => {
                    now += by;
                    let rest = model.split_off(&(now + 1, 0));
                    let expected: Vec<(u64, u64)> =
                        std::mem::replace(&mut model, rest).into_iter().map(|((d, _), v)| (d, v)).collect();
                    prop_assert_eq!(fire(&mut wheel, now), expected);
                }
            }
            prop_assert_eq!(wheel.len(), model.len());
            if let (Some(deadline), Some(((first, _), _))) = (wheel.next_deadline(), model.first_key_value()) {
                prop_assert!(deadline <= (*first).max(now));
            }
        }
    }
}
