//! The SQLite schema and its versions (`PRAGMA user_version`).
//!
//! Owns the tables and indexes and the ordered list of migrations; `migrate` applies the missing
//! ones in one transaction at open. A database newer than this build is refused rather than
//! guessed at. It never touches row data beyond what a migration requires.

use rusqlite::Connection;

use crate::store::error::StoreError;

/// Migrations in order; version N is reached by applying `MIGRATIONS[N-1]`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE endpoints (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    tenant_id TEXT,
    is_active INTEGER NOT NULL,
    max_retries INTEGER NOT NULL,
    retry_delays TEXT NOT NULL,
    secret TEXT NOT NULL,
    headers TEXT NOT NULL,
    rate_limit_per_s INTEGER,
    format TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX endpoints_by_app ON endpoints(app_id, created_at);

CREATE TABLE deliveries (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    endpoint_id TEXT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    lease_until INTEGER,
    updated_at INTEGER NOT NULL
);
CREATE INDEX deliveries_due ON deliveries(next_attempt_at, seq)
    WHERE status IN ('pending', 'waiting');
CREATE INDEX deliveries_finished ON deliveries(updated_at)
    WHERE status IN ('delivered', 'failed');
CREATE INDEX deliveries_by_endpoint ON deliveries(endpoint_id);

CREATE TABLE attempts (
    seq INTEGER PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    endpoint_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status_code INTEGER,
    latency_ms INTEGER NOT NULL,
    error TEXT,
    at INTEGER NOT NULL
);
CREATE INDEX attempts_by_endpoint ON attempts(endpoint_id, seq);
CREATE INDEX attempts_by_delivery ON attempts(delivery_id);
CREATE INDEX attempts_by_time ON attempts(at);

CREATE TABLE breakers (
    endpoint_id TEXT PRIMARY KEY REFERENCES endpoints(id) ON DELETE CASCADE,
    consecutive_failures INTEGER NOT NULL,
    open_until INTEGER,
    probing INTEGER NOT NULL
);

CREATE TABLE notifications (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    app_id TEXT NOT NULL,
    client_id TEXT,
    channel TEXT NOT NULL,
    user_id TEXT,
    event TEXT NOT NULL,
    payload BLOB NOT NULL,
    due_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_until INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX notifications_by_client ON notifications(app_id, client_id)
    WHERE client_id IS NOT NULL;
CREATE INDEX notifications_due ON notifications(due_at, seq) WHERE status = 'pending';
CREATE INDEX notifications_by_app ON notifications(app_id, seq);
CREATE INDEX notifications_finished ON notifications(updated_at) WHERE status <> 'pending';
"#,
    // Claims stay cheap with a million pending: a leased row leaves the claim index, so the claim
    // never steps over the seconds of leased rows waiting on the wheel; lapsed leases have their
    // own small index. The pending gauge counts from a covering index, not the table.
    r#"
DROP INDEX notifications_due;
CREATE INDEX notifications_claimable ON notifications(due_at, seq)
    WHERE status = 'pending' AND lease_until IS NULL;
CREATE INDEX notifications_leased ON notifications(lease_until)
    WHERE status = 'pending' AND lease_until IS NOT NULL;
CREATE INDEX notifications_pending_by_app ON notifications(app_id, status)
    WHERE status = 'pending';
"#,
    // Lease fencing: every claim (and replay) moves the generation on, and an attempt is
    // recorded only under the generation it was claimed with.
    r#"
ALTER TABLE deliveries ADD COLUMN lease_gen INTEGER NOT NULL DEFAULT 0;
"#,
    // Cheaper outcomes: an attempt line names its delivery by the integer `seq`, so its index
    // grows at the end (delivery ids are random text, which scattered every insert over the
    // whole index) and the parent check is a rowid lookup. The index on the attempt time is
    // gone: no query reads it (the stats and the log go through `attempts_by_endpoint`, the
    // retention job through the delivery).
    r#"
CREATE TABLE attempts_v4 (
    seq INTEGER PRIMARY KEY,
    delivery_seq INTEGER NOT NULL REFERENCES deliveries(seq) ON DELETE CASCADE,
    endpoint_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status_code INTEGER,
    latency_ms INTEGER NOT NULL,
    error TEXT,
    at INTEGER NOT NULL
);
INSERT INTO attempts_v4 (seq, delivery_seq, endpoint_id, attempt, status_code, latency_ms,
    error, at)
    SELECT a.seq, d.seq, a.endpoint_id, a.attempt, a.status_code, a.latency_ms, a.error, a.at
    FROM attempts a JOIN deliveries d ON d.id = a.delivery_id;
DROP TABLE attempts;
ALTER TABLE attempts_v4 RENAME TO attempts;
CREATE INDEX attempts_by_endpoint ON attempts(endpoint_id, seq);
CREATE INDEX attempts_by_delivery ON attempts(delivery_seq);
"#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Applies the missing migrations in one transaction.
pub fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.unchecked_transaction()?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
    }
    tx.commit()?;
    tracing::info!(from = found, to = SCHEMA_VERSION, "store schema migrated");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database (foreign keys on, as the store opens it) left at `version`, with endpoint
    /// `ep` of app `app`.
    fn at_version(version: usize) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys=ON").unwrap();
        for sql in &MIGRATIONS[..version] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(&format!(
            "PRAGMA user_version = {version};
             INSERT INTO endpoints VALUES ('ep', 'app', 'hook', 'http://h/', '[]', NULL, 1, 3,
                 '[]', 's', '{{}}', NULL, 'standard', 0, 0);"
        ))
        .unwrap();
        conn
    }

    /// The one integer `sql` answers.
    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// A database left at version 2 (notification claim indexes, before lease fencing) moves to
    /// the current version with its pending rows kept and claimable under lease token 0.
    #[test]
    fn a_version_2_database_upgrades_and_keeps_its_deliveries() {
        let conn = at_version(2);
        conn.execute_batch(
            "INSERT INTO deliveries (id, endpoint_id, event, body, created_at, next_attempt_at,
                 status, updated_at) VALUES ('d', 'ep', 'e', x'7b7d', 0, 0, 'pending', 0);",
        )
        .unwrap();
        migrate(&conn).unwrap();
        assert_eq!(count(&conn, "PRAGMA user_version"), SCHEMA_VERSION);
        assert_eq!(SCHEMA_VERSION, 4);
        let gen = count(&conn, "SELECT lease_gen FROM deliveries WHERE id = 'd'");
        assert_eq!(gen, 0);
        let index = "SELECT count(*) FROM sqlite_master WHERE name = 'notifications_claimable'";
        assert_eq!(count(&conn, index), 1, "version 2's indexes are kept");
    }

    /// A version 3 database (attempt lines keyed by the delivery's text id) moves to version 4
    /// with every attempt line kept and still found through its delivery and its endpoint.
    #[test]
    fn a_version_3_database_keeps_its_attempt_lines() {
        let conn = at_version(3);
        conn.execute_batch(
            "INSERT INTO deliveries (seq, id, endpoint_id, event, body, created_at,
                 next_attempt_at, status, updated_at) VALUES
                 (7, 'd7', 'ep', 'e', x'7b7d', 0, 0, 'pending', 0),
                 (9, 'd9', 'ep', 'e', x'7b7d', 0, 0, 'delivered', 0);
             INSERT INTO attempts (seq, delivery_id, endpoint_id, attempt, status_code,
                 latency_ms, error, at) VALUES
                 (1, 'd7', 'ep', 1, 503, 4, 'status 503', 10),
                 (2, 'd9', 'ep', 1, 200, 3, NULL, 11),
                 (3, 'd7', 'ep', 2, 500, 5, 'status 500', 12);",
        )
        .unwrap();
        migrate(&conn).unwrap();
        let lines: Vec<(i64, String, u32, Option<String>)> = conn
            .prepare(
                "SELECT a.seq, d.id, a.attempt, a.error FROM attempts a \
                 JOIN deliveries d ON d.seq = a.delivery_seq WHERE a.endpoint_id = 'ep' \
                 ORDER BY a.seq",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            lines,
            [
                (1, "d7".to_owned(), 1, Some("status 503".to_owned())),
                (2, "d9".to_owned(), 1, None),
                (3, "d7".to_owned(), 2, Some("status 500".to_owned())),
            ]
        );
        let gone = "SELECT count(*) FROM sqlite_master \
                    WHERE name IN ('attempts_by_time', 'attempts_v4', 'attempts_by_delivery')";
        assert_eq!(count(&conn, gone), 1, "only the new attempts_by_delivery");
        // Removing a delivery still takes its attempt lines with it.
        conn.execute_batch("DELETE FROM deliveries WHERE id = 'd7'")
            .unwrap();
        assert_eq!(count(&conn, "SELECT count(*) FROM attempts"), 1);
    }
}
