//! Fuzzes `proto::filter`: parsing, compiling (with auth claims and a list rule), evaluating,
//! indexing and the update rules, on arbitrary filter text and a record derived from the input.
//!
//! Input layout: everything before the first NUL byte is the filter, the rest seeds the record.
//! If the rest is a JSON value it is the record; otherwise each field the filter names gets a
//! value chosen by the next byte, so the comparisons actually meet data of every type.
//! Beyond "never panics": a parsed filter prints to text that parses to the same tree, an
//! error points inside the filter, and the index yields every subscriber whose filter matches
//! and every receiver of an update, once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringcast::proto::filter::{
    delivery, parse, Action, Change, CompiledFilter, Expr, FilterIndex, Operand,
};
use serde_json::{json, Map, Value};

fuzz_target!(|data: &[u8]| {
    let (text, seed) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let text = String::from_utf8_lossy(text);
    let expr = match parse(&text) {
        Ok(expr) => expr,
        Err(e) => {
            assert!(e.at() <= text.len(), "{e:?} points past the filter");
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let printed = expr.to_string();
    if printed.len() <= ringcast::proto::filter::MAX_FILTER_LEN {
        assert_eq!(parse(&printed).as_ref(), Ok(&expr), "printed: {printed}");
    }
    let record = serde_json::from_slice(seed).unwrap_or_else(|_| derive_record(&expr, seed));
    let claims = json!({"sub": "u1", "team": {"id": 3}, "roles": ["admin"]});
    let rule = parse("owner = @request.auth.id || public = true").ok();
    for compiled in [
        CompiledFilter::new(None, Some(&expr), &claims),
        CompiledFilter::new(rule.as_ref(), Some(&expr), &Value::Null),
    ] {
        check(&compiled, &record);
    }
});

fn check(compiled: &CompiledFilter, record: &Value) {
    let matched = compiled.matches(record);
    if let Some(constant) = compiled.constant() {
        assert_eq!(constant, matched);
    }
    let mut index = FilterIndex::new();
    index.insert(7u8, compiled);
    let mut seen = 0;
    index.candidates(record, |_| seen += 1);
    assert!(seen <= 1, "one subscriber visited {seen} times");
    assert!(seen == 1 || !matched, "a match the index did not yield");
    // The record updated into an empty one: a leave, visible only through the old record.
    let emptied = Value::Object(Map::new());
    let change = Change {
        action: Action::Updated,
        record: &emptied,
        previous: Some(record),
    };
    let mut visited = 0;
    index.candidates_of_change(&change, |_| visited += 1);
    assert!(
        visited <= 1,
        "one subscriber visited {visited} times for a change"
    );
    if delivery(compiled, &change, true).is_some() {
        assert_eq!(
            visited, 1,
            "a receiver of the update the index did not yield"
        );
    }
}

/// A record with a value for every field the filter names, typed by the seed's bytes.
fn derive_record(expr: &Expr, seed: &[u8]) -> Value {
    let mut fields = Vec::new();
    collect_fields(expr, &mut fields);
    let mut bytes = seed.iter().copied().cycle().take(seed.len() * 4);
    let mut root = Value::Object(Map::new());
    for path in fields {
        let value = value_from(&mut bytes);
        insert(&mut root, path, value);
    }
    root
}

fn collect_fields<'a>(expr: &'a Expr, out: &mut Vec<&'a str>) {
    match expr {
        Expr::Cmp(c) => {
            for side in [&c.left, &c.right] {
                if let Operand::Field(path) = side {
                    out.push(path);
                }
            }
        }
        Expr::And(children) | Expr::Or(children) => {
            children.iter().for_each(|c| collect_fields(c, out))
        }
    }
}

fn value_from(bytes: &mut impl Iterator<Item = u8>) -> Value {
    let Some(b) = bytes.next() else {
        return Value::Null;
    };
    match b % 7 {
        0 => Value::Null,
        1 => Value::Bool(b & 8 != 0),
        2 => Value::from(i64::from(b / 7) - 10),
        3 => Value::from(f64::from(b) / 3.0),
        4 => Value::String(bytes.take(usize::from(b / 32)).map(char::from).collect()),
        5 => Value::Array((0..b / 64).map(|_| value_from(bytes)).collect()),
        _ => Value::String(String::new()),
    }
}

/// Sets `path` (dotted) in `root`, creating objects on the way; a non-object in the way stays.
fn insert(root: &mut Value, path: &str, value: Value) {
    let mut node = root;
    let mut segments = path.split('.').peekable();
    while let Some(segment) = segments.next() {
        let Value::Object(map) = node else { return };
        if segments.peek().is_none() {
            map.insert(segment.to_owned(), value);
            return;
        }
        node = map
            .entry(segment.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}
