//! Path table tests: shared paths share a slot, released paths are freed and their slots
//! reused, and (as a property) evaluating through resolved slots gives what evaluating the
//! record gives, for matches and for deliveries, while filters come and go. Test-only.

use proptest::prelude::*;
use serde_json::json;

use super::index_tests::{filter_text, record};
use super::*;

fn compile(src: &str) -> CompiledFilter {
    CompiledFilter::new(None, Some(&parse(src).unwrap()), &json!({"id": "a"}))
}

#[test]
fn filters_reading_one_path_share_its_slot_until_the_last_is_released() {
    let mut table = PathTable::new();
    let mut a = compile("seq < -1 && meta.k = 'x'");
    let mut b = compile("seq < -2 || seq > 9");
    table.intern(&mut a);
    table.intern(&mut b);
    assert_eq!(table.len(), 2, "seq and meta.k");
    let record = json!({"seq": -5, "meta": {"k": "x"}});
    let resolved = table.resolve(&record);
    assert!(a.matches_resolved(&resolved));
    assert!(b.matches_resolved(&resolved));
    table.release(&mut a);
    assert_eq!(table.len(), 1, "b still reads seq");
    assert!(a.matches(&record), "a released still evaluates");
    table.release(&mut b);
    assert!(table.is_empty());
    let mut c = compile("title ~ 'x'");
    table.intern(&mut c);
    let record = json!({"title": "xy", "seq": 1});
    let resolved = table.resolve(&record);
    assert_eq!(
        resolved.fields().slots.len(),
        2,
        "the freed slot is reused, the table does not grow"
    );
    assert!(c.matches_resolved(&resolved));
}

#[test]
fn more_paths_than_fit_inline_resolve_the_same() {
    let mut table = PathTable::new();
    let mut filters: Vec<CompiledFilter> = (0..12).map(|i| compile(&format!("f{i} > 1"))).collect();
    filters.iter_mut().for_each(|f| table.intern(f));
    assert_eq!(table.len(), 12);
    let record = json!({"f3": 2, "f10": 5, "f11": 0});
    let resolved = table.resolve(&record);
    let hits: Vec<usize> = (0..12)
        .filter(|&i| filters[i].matches_resolved(&resolved))
        .collect();
    assert_eq!(hits, [3, 10]);
}

#[test]
fn an_update_is_judged_on_both_resolved_records() {
    let mut table = PathTable::new();
    let mut f = compile("status = 'active' && n > 1");
    table.intern(&mut f);
    let (active, idle) = (
        json!({"status": "active", "n": 2}),
        json!({"status": "idle", "n": 2}),
    );
    let update = |record, previous| Change {
        action: Action::Updated,
        record,
        previous: Some(previous),
    };
    let got = |change: &Change<'_>| delivery_resolved(&f, &table.resolve_change(change), true);
    assert_eq!(got(&update(&idle, &active)), Some(Delivery::Deleted));
    assert_eq!(got(&update(&active, &idle)), Some(Delivery::Created));
    assert_eq!(got(&update(&active, &active)), Some(Delivery::Updated));
}

proptest! {
    #[test]
    fn resolved_slots_give_what_the_record_gives(
        filters in proptest::collection::vec(filter_text(), 1..12),
        released in proptest::collection::vec(any::<bool>(), 12),
        records in proptest::collection::vec(record(), 1..6),
    ) {
        let mut table = PathTable::new();
        let mut compiled: Vec<CompiledFilter> = filters.iter().map(|f| compile(f)).collect();
        compiled.iter_mut().for_each(|f| table.intern(f));
        // Some filters leave, and the same ones are interned again, so freed slots are
        // reused by whichever path comes next.
        for (f, &gone) in compiled.iter_mut().zip(&released) {
            if gone {
                table.release(f);
            }
        }
        for (f, &gone) in compiled.iter_mut().zip(&released).rev() {
            if gone {
                table.intern(f);
            }
        }
        for record in &records {
            let resolved = table.resolve(record);
            for (f, text) in compiled.iter().zip(&filters) {
                prop_assert_eq!(f.matches_resolved(&resolved), f.matches(record), "{} on {}", text, record);
            }
        }
        for pair in records.windows(2) {
            let change = Change { action: Action::Updated, record: &pair[1], previous: Some(&pair[0]) };
            let resolved = table.resolve_change(&change);
            for f in &compiled {
                prop_assert_eq!(delivery_resolved(f, &resolved, true), delivery(f, &change, true));
            }
        }
    }
}
