//! Index tests: which conjunct a filter is indexed by, that candidates cover every true match
//! (and every receiver of an update), and (as a property) that index-then-evaluate finds exactly what evaluating every
//! subscription finds. Test-only.

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

fn compile(src: &str, claims: &Value) -> CompiledFilter {
    CompiledFilter::new(None, Some(&parse(src).unwrap()), claims)
}

fn key_path(src: &str) -> Option<String> {
    compile(src, &json!({"id": "u1", "roles": ["a"]}))
        .index_key()
        .map(|k| k.path().to_owned())
}

#[test]
fn the_key_is_an_equality_conjunct_of_the_top_level_and() {
    assert_eq!(key_path("owner = 'x'").as_deref(), Some("owner"));
    assert_eq!(key_path("'x' = owner").as_deref(), Some("owner"));
    assert_eq!(key_path("tags ?= 'x'").as_deref(), Some("tags"));
    assert_eq!(key_path("n > 1 && meta.k = 3").as_deref(), Some("meta.k"));
    assert_eq!(
        key_path("owner = @request.auth.id").as_deref(),
        Some("owner")
    );
    assert_eq!(key_path("b = true").as_deref(), Some("b"));
    // An OR offers a key only when every branch shares it.
    assert_eq!(
        key_path("(a = 1 && b = 2) || (c = 3 && a = 1)").as_deref(),
        Some("a")
    );
    for scan in [
        "a = 1 || b = 2",
        "a != 1",
        "a > 1",
        "a ~ 'x'",
        "a = ''",
        "a = null",
        "a = b",
        "owner = @request.auth.missing",
        "a ?= @request.auth.roles",
        "a ?!= 1",
    ] {
        assert_eq!(key_path(scan), None, "{scan}");
    }
}

fn candidates(index: &FilterIndex<u32>, record: &Value) -> Vec<u32> {
    let mut out = Vec::new();
    index.candidates(record, |h| out.push(*h));
    out
}

#[test]
fn candidates_are_the_matching_bucket_and_the_scan_list() {
    let mut index = FilterIndex::new();
    let filters = [
        "owner = 'u1'",
        "owner = 'u2'",
        "owner = 'u1' && n > 5",
        "n > 5",
        "tags ?= 'red'",
        "flag = true",
    ];
    for (h, src) in filters.iter().enumerate() {
        index.insert(h as u32, &compile(src, &Value::Null));
    }
    assert_eq!(index.len(), 6);
    assert_eq!(index.scan_len(), 1);
    let mut got = candidates(&index, &json!({"owner": "u1", "n": 1}));
    got.sort();
    assert_eq!(got, vec![0, 2, 3]);
    let got = candidates(&index, &json!({"tags": ["red", "red", "blue"], "flag": 1}));
    let set: BTreeSet<u32> = got.iter().copied().collect();
    assert_eq!(set.len(), got.len(), "each candidate once: {got:?}");
    assert_eq!(set, BTreeSet::from([3, 4, 5]));

    assert!(index.remove(&0));
    assert!(!index.remove(&0));
    assert!(index.remove(&3));
    assert_eq!(candidates(&index, &json!({"owner": "u1"})), vec![2]);
    // Re-inserting a handle moves it.
    index.insert(2, &compile("owner = 'u2'", &Value::Null));
    let mut got = candidates(&index, &json!({"owner": "u2"}));
    got.sort();
    assert_eq!(got, vec![1, 2]);
    assert!(candidates(&index, &json!({"owner": "u1"})).is_empty());
}

#[test]
fn large_arrays_dedupe_their_keys_too() {
    let mut index = FilterIndex::new();
    index.insert(1u32, &compile("tags ?= 'x'", &Value::Null));
    let many: Vec<&str> = std::iter::repeat_n("x", 40).collect();
    assert_eq!(candidates(&index, &json!({ "tags": many })), vec![1]);
}

#[test]
fn an_update_visits_the_candidates_of_both_records_once() {
    let mut index = FilterIndex::new();
    for (h, src) in ["owner = 'u1'", "owner = 'u2'", "owner = 'u3'", "n > 1"]
        .iter()
        .enumerate()
    {
        index.insert(h as u32, &compile(src, &Value::Null));
    }
    let (old, new) = (json!({"owner": "u1"}), json!({"owner": "u2"}));
    let visit = |action, previous| {
        let change = Change {
            action,
            record: &new,
            previous,
        };
        let mut got = Vec::new();
        index.candidates_of_change(&change, |h| got.push(*h));
        got.sort();
        got
    };
    assert_eq!(visit(Action::Updated, Some(&old)), vec![0, 1, 3]);
    assert_eq!(
        visit(Action::Updated, Some(&new)),
        vec![1, 3],
        "same key once"
    );
    assert_eq!(visit(Action::Updated, None), vec![1, 3]);
    assert_eq!(
        visit(Action::Created, Some(&old)),
        vec![1, 3],
        "only updates look back"
    );
}

/// Filters over a small vocabulary, so that records often hit and miss them.
/// Any of the three actions.
pub(crate) fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::Created),
        Just(Action::Updated),
        Just(Action::Deleted)
    ]
}

pub(crate) fn filter_text() -> impl Strategy<Value = String> {
    let field = prop_oneof![Just("owner"), Just("n"), Just("tags"), Just("meta.k")];
    let value = prop_oneof![
        Just("'a'".to_owned()),
        Just("'b'".to_owned()),
        Just("''".to_owned()),
        Just("null".to_owned()),
        Just("true".to_owned()),
        (0..3i32).prop_map(|n| n.to_string()),
        Just("@request.auth.id".to_owned()),
    ];
    let op = proptest::sample::select(vec!["=", "?=", "!=", ">", "?<", "~", "?!="]);
    let cmp = (field, op, value).prop_map(|(f, o, v)| format!("{f} {o} {v}"));
    cmp.prop_recursive(2, 6, 3, |inner| {
        (inner.clone(), prop_oneof![Just("&&"), Just("||")], inner)
            .prop_map(|(a, j, b)| format!("({a}) {j} ({b})"))
    })
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("a")),
        Just(json!("b")),
        Just(json!("")),
        Just(Value::Null),
        Just(json!(true)),
        (0..3i32).prop_map(Value::from),
        (0..3i32).prop_map(|n| Value::from(f64::from(n))),
    ]
}

pub(crate) fn record() -> impl Strategy<Value = Value> {
    let field = prop_oneof![
        scalar(),
        proptest::collection::vec(scalar(), 0..3).prop_map(Value::from)
    ];
    (
        proptest::option::of(field.clone()),
        proptest::option::of(field.clone()),
        proptest::option::of(field.clone()),
        proptest::option::of(field),
    )
        .prop_map(|(owner, n, tags, k)| {
            let mut m = serde_json::Map::new();
            for (name, v) in [("owner", owner), ("n", n), ("tags", tags)] {
                if let Some(v) = v {
                    m.insert(name.into(), v);
                }
            }
            if let Some(k) = k {
                m.insert("meta".into(), json!({ "k": k }));
            }
            Value::Object(m)
        })
}

proptest! {
    #[test]
    fn index_then_evaluate_equals_evaluating_everyone(
        filters in proptest::collection::vec(filter_text(), 1..12),
        records in proptest::collection::vec(record(), 1..6),
    ) {
        let claims = json!({"id": "a"});
        let compiled: Vec<CompiledFilter> =
            filters.iter().map(|f| compile(f, &claims)).collect();
        let mut index = FilterIndex::new();
        for (h, f) in compiled.iter().enumerate() {
            index.insert(h, f);
        }
        for record in &records {
            let everyone: BTreeSet<usize> =
                (0..compiled.len()).filter(|&h| compiled[h].matches(record)).collect();
            let mut seen = Vec::new();
            index.candidates(record, |&h| seen.push(h));
            let unique: BTreeSet<usize> = seen.iter().copied().collect();
            prop_assert_eq!(unique.len(), seen.len(), "a candidate twice");
            prop_assert!(unique.is_superset(&everyone), "{:?} ⊉ {:?}", unique, everyone);
            let indexed: BTreeSet<usize> =
                unique.into_iter().filter(|&h| compiled[h].matches(record)).collect();
            prop_assert_eq!(indexed, everyone, "record {}", record);
        }
        for pair in records.windows(2) {
            let change = Change { action: Action::Updated, record: &pair[1], previous: Some(&pair[0]) };
            let receivers: BTreeSet<usize> = (0..compiled.len())
                .filter(|&h| delivery(&compiled[h], &change, true).is_some())
                .collect();
            let mut seen = Vec::new();
            index.candidates_of_change(&change, |&h| seen.push(h));
            let unique: BTreeSet<usize> = seen.iter().copied().collect();
            prop_assert_eq!(unique.len(), seen.len(), "a candidate twice");
            prop_assert!(unique.is_superset(&receivers), "{:?} ⊉ {:?}", unique, receivers);
        }
    }
}
