//! The SQLite store against the contract, plus what only a file-backed store has: pragmas,
//! schema versions, reopening, kill safety and size measurement.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use super::*;
use crate::store::contract::{block_on, contract_suite, new_delivery, seed_endpoint};
use crate::store::{DeliveryStore, EndpointStore};

fn fresh() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path()).expect("open store");
    (dir, store)
}

contract_suite!(fresh());

#[test]
fn opens_in_wal_with_the_chosen_sync_and_foreign_keys() {
    let (dir, store) = fresh();
    assert_eq!(store.pragma("journal_mode").unwrap(), "wal");
    assert_eq!(store.pragma("synchronous").unwrap(), "1", "NORMAL");
    assert_eq!(store.pragma("foreign_keys").unwrap(), "1");
    assert_eq!(
        store.pragma("user_version").unwrap(),
        schema::SCHEMA_VERSION.to_string()
    );
    drop(store);
    let full = SqliteStore::open_with(dir.path(), SyncMode::Full).unwrap();
    assert_eq!(full.pragma("synchronous").unwrap(), "2", "FULL");
    assert_eq!(full.path(), dir.path().join(DB_FILE));
}

#[test]
fn data_survives_a_reopen_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b");
    {
        let store = SqliteStore::open(&nested).unwrap();
        block_on(seed_endpoint(&store, "app", "ep"));
    }
    let store = SqliteStore::open(&nested).unwrap();
    assert!(block_on(store.get_endpoint("app", "ep")).is_ok());
    store
        .conn
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    drop(store);
    let err = SqliteStore::open(&nested)
        .err()
        .expect("newer schema refused");
    assert!(matches!(err, StoreError::NewerSchema { found: 99, .. }));
    assert!(err.to_string().contains("RINGCAST_DATA_DIR"), "{err}");
}

#[test]
fn disk_usage_grows_with_deliveries_and_checkpoint_empties_the_wal() {
    let (_dir, store) = fresh();
    block_on(seed_endpoint(&store, "app", "ep"));
    store.checkpoint().unwrap();
    let before = store.disk_usage().unwrap();
    let batch: Vec<_> = (0..2_000)
        .map(|i| new_delivery("ep", &format!("d{i}"), 0))
        .collect();
    block_on(store.insert_deliveries(&batch)).unwrap();
    let grown = store.disk_usage().unwrap();
    assert!(
        grown.total() > before.total() + 2_000 * 20,
        "{before:?} -> {grown:?}"
    );
    assert!(grown.wal_bytes > 0);
    store.checkpoint().unwrap();
    let folded = store.disk_usage().unwrap();
    assert_eq!(folded.wal_bytes, 0);
    assert!(folded.db_bytes > before.db_bytes);
}

/// The environment variable that turns [`kill_child_writes_batches`] into the writer.
const KILL_DIR_ENV: &str = "RINGCAST_STORE_KILL_DIR";
const KILL_CHILD: &str = "store::sqlite::tests::kill_child_writes_batches";

/// Child half of the kill test: writes batches of 10 deliveries forever, printing each batch's
/// number only after its commit returned. Run only by the parent, through the env variable.
#[test]
#[ignore = "child process of sigkill_after_commit_loses_nothing"]
fn kill_child_writes_batches() {
    let dir = std::env::var(KILL_DIR_ENV).expect("run by sigkill_after_commit_loses_nothing");
    let store = SqliteStore::open(std::path::Path::new(&dir)).unwrap();
    block_on(seed_endpoint(&store, "app", "ep"));
    for n in 0.. {
        let batch: Vec<_> = (0..10)
            .map(|i| new_delivery("ep", &format!("b{n}-{i}"), n))
            .collect();
        block_on(store.insert_deliveries(&batch)).unwrap();
        println!("COMMITTED {n}");
    }
}

#[test]
fn sigkill_after_commit_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            KILL_CHILD,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(KILL_DIR_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut acked = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("COMMITTED ") {
            acked = Some(n.parse::<u32>().unwrap());
            if acked >= Some(30) {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no checkpoint, WAL left as is
    child.wait().unwrap();
    let acked = acked.expect("the child committed batches");

    let store = SqliteStore::open(dir.path()).unwrap();
    for n in 0..=acked {
        for i in 0..10 {
            let id = format!("b{n}-{i}");
            let d = block_on(store.get_delivery(&id)).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(d.body, format!("{{\"id\":\"{id}\"}}").into_bytes());
        }
    }
    // Batches after the last acknowledged one are whole or absent, never partial.
    let mut n = acked + 1;
    while block_on(store.get_delivery(&format!("b{n}-0"))).is_ok() {
        assert!(
            block_on(store.get_delivery(&format!("b{n}-9"))).is_ok(),
            "batch {n} is partial"
        );
        n += 1;
    }
    let due =
        block_on(store.claim_due_deliveries(i64::MAX, i64::MAX, i64::MAX, usize::MAX / 2)).unwrap();
    assert!(
        due.len() as u32 >= (acked + 1) * 10,
        "pending deliveries resume after restart"
    );
}

/// The query plan of `sql`, one detail line per step.
fn plan(store: &SqliteStore, sql: &str, params: impl rusqlite::Params) -> String {
    let mut stmt = store
        .conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap();
    let rows = stmt.query_map(params, |r| r.get::<_, String>(3)).unwrap();
    rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
}

/// With a million pending, a claim must walk only unleased rows in due order, and the pending
/// gauge must not visit the table.
#[test]
fn notification_claims_and_counts_use_their_indexes() {
    let (_dir, store) = fresh();
    let claim = plan(&store, &super::notifications::claim_sql(), (1, 2, 3, 4));
    assert!(
        claim.contains("USING INDEX notifications_claimable (due_at<?)"),
        "{claim}"
    );
    assert!(
        claim.contains("USING INDEX notifications_leased"),
        "{claim}"
    );
    let count = plan(&store, super::notifications::COUNT_PENDING_SQL, ["app"]);
    assert!(
        count.contains("USING COVERING INDEX notifications_pending_by_app"),
        "{count}"
    );
}
