//! Collection-filter microbenches: one record change against 10k subscriptions with distinct
//! `owner = 'uN'` filters plus 100 filters the index cannot key (they are scanned), through
//! the index (candidates, then evaluate each) and through a naive evaluate-everyone loop. Both
//! count the same matches; `indexed_slots` is `indexed` as a core runs it, with the scanned
//! filters' paths interned in a `PathTable` and resolved once per change. Also: parsing and
//! compiling one typical filter, and reading a `POST /apps/ID/records` body of ten changes.
//!
//! The record is parsed once, outside the measured loop, as the shard will do per change.
//! Run with `cargo bench --bench filter`.

use divan::{black_box, Bencher};
use ringcast::proto::filter::{
    delivery_resolved, parse, Action, Change, CompiledFilter, FilterIndex, NumberTest, PathTable,
};
use serde_json::{json, Value};

fn main() {
    divan::main();
}

const OWNERS: usize = 10_000;
const SCANNED: usize = 100;

/// The subscriptions, by handle: the keyed ones first, then the scanned ones.
fn subscriptions() -> Vec<CompiledFilter> {
    let claims = json!({"id": "u0"});
    let keyed = (0..OWNERS).map(|i| format!("owner = 'u{i}'"));
    // Not indexable: a range, a contains and an OR without a common conjunct.
    let scanned = (0..SCANNED).map(|i| match i % 3 {
        0 => format!("total > {i} && status != 'archived'"),
        1 => format!("title ~ 'report {i}'"),
        _ => format!("owner = 'x{i}' || total < {i}"),
    });
    keyed
        .chain(scanned)
        .map(|src| CompiledFilter::new(None, Some(&parse(&src).unwrap()), &claims))
        .collect()
}

fn change() -> Value {
    json!({
        "id": "rec_42",
        "owner": "u4242",
        "title": "Quarterly report 7",
        "status": "active",
        "total": 50,
        "tags": ["finance", "q3"],
    })
}

/// Candidates from the index, each evaluated: the cost should follow the matches.
#[divan::bench]
fn indexed(bencher: Bencher) {
    let subs = subscriptions();
    let mut index = FilterIndex::new();
    for (h, f) in subs.iter().enumerate() {
        index.insert(h, f);
    }
    assert_eq!(index.scan_len(), SCANNED);
    let record = change();
    let want = naive_count(&subs, &record);
    assert!(
        want > 1,
        "the change must match the keyed owner and some scanned filters"
    );
    bencher.bench_local(|| {
        let record = black_box(&record);
        let mut matched = 0usize;
        index.candidates(record, |&h| matched += usize::from(subs[h].matches(record)));
        assert_eq!(matched, want);
        matched
    });
}

/// `indexed`, with the scanned filters reading their fields from slots resolved once per
/// change (the resolution is inside the measured loop, as it is per change in the shard).
#[divan::bench]
fn indexed_slots(bencher: Bencher) {
    let mut subs = subscriptions();
    let mut index = FilterIndex::new();
    let mut table = PathTable::new();
    for (h, f) in subs.iter_mut().enumerate() {
        index.insert(h, f);
        if f.index_key().is_none() {
            table.intern(f);
        }
    }
    let record = change();
    let want = naive_count(&subs, &record);
    bencher.bench_local(|| {
        let record = black_box(&record);
        let resolved = table.resolve(record);
        let mut matched = 0usize;
        index.candidates(record, |&h| {
            matched += usize::from(subs[h].matches_resolved(&resolved))
        });
        assert_eq!(matched, want);
        matched
    });
}

fn naive_count(subs: &[CompiledFilter], record: &Value) -> usize {
    subs.iter().filter(|f| f.matches(record)).count()
}

/// The baseline: every subscription evaluated.
#[divan::bench]
fn naive(bencher: Bencher) {
    let subs = subscriptions();
    let record = change();
    bencher.bench_local(|| naive_count(&subs, black_box(&record)));
}

/// Subscribe-time cost: parse and compile a rule and a filter with auth.
#[divan::bench]
fn parse_and_compile(bencher: Bencher) {
    let claims = json!({"sub": "u7", "team": 3});
    bencher.bench_local(|| {
        let rule = parse(black_box("owner = @request.auth.id || public = true")).unwrap();
        let filter = parse(black_box("total > 100 && currency = 'EUR'")).unwrap();
        CompiledFilter::new(Some(&rule), Some(&filter), &claims)
    });
}

/// A `POST /apps/ID/records` body of ten changes shaped as the load generator sends them,
/// parsed into changes: the ingest's per-request JSON cost.
#[divan::bench]
fn records_body(bencher: Bencher) {
    let changes: Vec<String> = (0..10)
        .map(|i| {
            format!(
                r#"{{"collection":"bench","action":"created","record":{{"owner":"bench-{i}","seq":{i},"t":1764210000000000000}}}}"#
            )
        })
        .collect();
    let body = format!(r#"{{"records":[{}]}}"#, changes.join(","));
    bencher.bench(|| {
        ringcast::proto::api::records::parse_records(black_box(body.as_bytes())).unwrap()
    });
}

/// The end-to-end bench's scanned filters (`scripts/bench-collections`): 100 distinct
/// `seq < -k`, none of which matches, against one change with its paths resolved once, as a
/// core does for the filters its index cannot key: each ruled out by its `NumberTest` where it
/// has one, else evaluated. With `tests = false` every one is evaluated in full.
#[divan::bench(args = [true, false])]
fn scanned_ranges(bencher: Bencher, tests: bool) {
    let mut table = PathTable::new();
    let filters: Vec<(Option<NumberTest>, CompiledFilter)> = (1..=SCANNED)
        .map(|k| {
            let text = format!("seq < -{k}");
            let mut f = CompiledFilter::new(None, Some(&parse(&text).unwrap()), &Value::Null);
            table.intern(&mut f);
            (NumberTest::of(&f).filter(|_| tests), f)
        })
        .collect();
    let record = json!({"owner": "bench-42", "seq": 4242, "t": 1764210000000000000u64});
    let change = Change {
        action: Action::Created,
        record: &record,
        previous: None,
    };
    bencher.bench_local(|| {
        let resolved = table.resolve_change(black_box(&change));
        let delivered = filters
            .iter()
            .filter(|(test, _)| !test.is_some_and(|t| t.rules_out(&resolved)))
            .filter(|(_, f)| delivery_resolved(f, &resolved, true).is_some())
            .count();
        assert_eq!(delivered, 0);
        delivered
    });
}

/// The index alone: the candidates of 1,000 changes, each for a different one of the 10k
/// owners (in a scattered order, so most lookups leave the cache), one candidate each.
#[divan::bench]
fn owner_lookups(bencher: Bencher) {
    let mut index = FilterIndex::new();
    let claims = json!(null);
    for i in 0..OWNERS {
        let f = CompiledFilter::new(
            None,
            Some(&parse(&format!("owner = 'u{i}'")).unwrap()),
            &claims,
        );
        index.insert(i, &f);
    }
    let records: Vec<Value> = (0..1000)
        .map(|i| json!({"owner": format!("u{}", (i * 7919) % OWNERS), "seq": i}))
        .collect();
    bencher.bench_local(|| {
        let mut found = 0usize;
        for record in &records {
            index.candidates(black_box(record), |_| found += 1);
        }
        assert_eq!(found, records.len());
        found
    });
}
