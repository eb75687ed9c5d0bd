//! `DeliveryStore` on SQLite: the delivery queue, leases, the attempt log and retention.
//!
//! Owns the SQL of `deliveries` and `attempts`. A batch insert is one transaction (the group
//! commit); a claim is one `UPDATE … RETURNING` so two claimers cannot lease the same row.

use rusqlite::{params, OptionalExtension, Row};

use super::{duplicate_or, page_of, sql_limit, unknown_text, SqliteStore};
use crate::store::error::StoreError;
use crate::store::types::{
    AttemptRecord, Delivery, DeliveryStatus, Finished, LogEntry, NewDelivery, Page, Pruned,
};
use crate::store::DeliveryStore;
use crate::webhook::retry::NextState;

const COLUMNS: &str =
    "id, endpoint_id, event, body, created_at, next_attempt_at, attempt, status, seq, lease_gen";

fn status_of(column: usize, text: &str) -> rusqlite::Result<DeliveryStatus> {
    DeliveryStatus::parse(text).ok_or_else(|| unknown_text(column, "delivery status", text))
}

/// A delivery row with its `seq`, which orders claims.
fn delivery_from(row: &Row<'_>) -> rusqlite::Result<(Delivery, i64)> {
    let status: String = row.get(7)?;
    Ok((
        Delivery {
            id: row.get(0)?,
            endpoint_id: row.get(1)?,
            event: row.get(2)?,
            body: row.get(3)?,
            created_at_ms: row.get(4)?,
            next_attempt_at_ms: row.get(5)?,
            attempt: row.get(6)?,
            status: status_of(7, &status)?,
            // A count of claims: never negative.
            lease: u64::try_from(row.get::<_, i64>(9)?).unwrap_or(0),
        },
        row.get(8)?,
    ))
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        what: "delivery",
        id: id.to_owned(),
    }
}

impl SqliteStore {
    /// The statements of `finish_attempt`, inside the caller's transaction; `false` when the
    /// lease was taken over (nothing written).
    fn finish_one(
        &self,
        id: &str,
        lease: u64,
        attempt: Option<&AttemptRecord>,
        next: &NextState,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let (status, due) = DeliveryStatus::after(next);
        // Read first, then write by rowid: an `INSERT … SELECT` or an `UPDATE … RETURNING`
        // would make SQLite keep a statement journal (a copy of every page it touches) for
        // each outcome of the batch.
        let held = self
            .conn
            .prepare_cached(
                "SELECT seq, endpoint_id FROM deliveries WHERE id = ?1 AND lease_gen = ?2",
            )?
            // A token beyond i64 was never handed out, so it matches no row.
            .query_row(params![id, i64::try_from(lease).unwrap_or(-1)], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?;
        let Some((seq, endpoint_id)) = held else {
            // Either no such delivery, or a newer claim holds it.
            self.get_delivery_row(id)?;
            return Ok(false);
        };
        self.conn
            .prepare_cached(
                "UPDATE deliveries SET status = ?2, next_attempt_at = COALESCE(?3, next_attempt_at), \
                 attempt = COALESCE(?4, attempt), lease_until = NULL, updated_at = ?5 \
                 WHERE seq = ?1",
            )?
            .execute(params![
                seq,
                status.as_str(),
                due,
                attempt.map(|a| a.attempt),
                now_ms
            ])?;
        if let Some(a) = attempt {
            self.conn
                .prepare_cached(
                    "INSERT INTO attempts (delivery_seq, endpoint_id, attempt, status_code, \
                     latency_ms, error, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    seq,
                    endpoint_id,
                    a.attempt,
                    a.status_code,
                    a.latency_ms,
                    a.error,
                    a.at_ms
                ])?;
        }
        Ok(true)
    }

    fn get_delivery_row(&self, id: &str) -> Result<Delivery, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM deliveries WHERE id = ?1");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query_map([id], delivery_from)?;
        match rows.next() {
            Some(row) => Ok(row?.0),
            None => Err(not_found(id)),
        }
    }
}

impl DeliveryStore for SqliteStore {
    async fn insert_deliveries(&self, batch: &[NewDelivery]) -> Result<(), StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO deliveries (id, endpoint_id, event, body, created_at, \
                 next_attempt_at, status, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?5)",
            )?;
            for d in batch {
                stmt.execute(params![
                    d.id,
                    d.endpoint_id,
                    d.event,
                    d.body,
                    d.created_at_ms,
                    d.next_attempt_at_ms
                ])
                .map_err(|e| duplicate_or(e, "delivery", &d.id))?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    async fn claim_due_deliveries(
        &self,
        up_to_ms: i64,
        expired_by_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let sql = format!(
            "UPDATE deliveries SET lease_until = ?3, lease_gen = lease_gen + 1 WHERE seq IN (\
               SELECT seq FROM deliveries WHERE status IN ('pending', 'waiting') \
               AND next_attempt_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?2) \
               ORDER BY next_attempt_at, seq LIMIT ?4) RETURNING {COLUMNS}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![up_to_ms, expired_by_ms, lease_until_ms, sql_limit(limit)],
            delivery_from,
        )?;
        let mut claimed = rows.collect::<Result<Vec<_>, _>>()?;
        // RETURNING has no defined order; the queue order is due time, then insertion.
        claimed.sort_by_key(|(d, seq)| (d.next_attempt_at_ms, *seq));
        Ok(claimed.into_iter().map(|(d, _)| d).collect())
    }

    async fn get_delivery(&self, id: &str) -> Result<Delivery, StoreError> {
        self.get_delivery_row(id)
    }

    async fn finish_attempt(
        &self,
        id: &str,
        lease: u64,
        attempt: Option<&AttemptRecord>,
        next: &NextState,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let recorded = self.finish_one(id, lease, attempt, next, now_ms)?;
        tx.commit()?;
        Ok(recorded)
    }

    async fn finish_attempts(&self, batch: &[Finished], now_ms: i64) -> Result<usize, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let mut recorded = 0;
        for f in batch {
            recorded += usize::from(self.finish_one(
                &f.id,
                f.lease,
                f.attempt.as_ref(),
                &f.next,
                now_ms,
            )?);
        }
        tx.commit()?;
        Ok(recorded)
    }

    async fn delivery_log(
        &self,
        endpoint_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Page<LogEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT a.seq, d.id, d.event, d.status, a.attempt, a.status_code, \
             a.latency_ms, a.error, a.at FROM attempts a JOIN deliveries d ON d.seq = a.delivery_seq \
             WHERE a.endpoint_id = ?1 AND a.seq < ?2 ORDER BY a.seq DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(
            params![endpoint_id, before.unwrap_or(i64::MAX), sql_limit(limit)],
            |r| {
                let status: String = r.get(3)?;
                Ok((
                    r.get::<_, i64>(0)?,
                    LogEntry {
                        delivery_id: r.get(1)?,
                        event: r.get(2)?,
                        delivery_status: status_of(3, &status)?,
                        attempt: AttemptRecord {
                            attempt: r.get(4)?,
                            status_code: r.get(5)?,
                            latency_ms: r.get(6)?,
                            error: r.get(7)?,
                            at_ms: r.get(8)?,
                        },
                    },
                ))
            },
        )?;
        Ok(page_of(rows.collect::<Result<Vec<_>, _>>()?, limit))
    }

    async fn requeue_delivery(
        &self,
        endpoint_id: &str,
        id: &str,
        now_ms: i64,
    ) -> Result<Delivery, StoreError> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE deliveries SET status = 'pending', next_attempt_at = ?3, attempt = 0, \
                 lease_until = NULL, lease_gen = lease_gen + 1, updated_at = ?3 \
                 WHERE id = ?1 AND endpoint_id = ?2",
            )?
            .execute(params![id, endpoint_id, now_ms])?;
        if changed == 0 {
            return Err(not_found(id));
        }
        self.get_delivery(id).await
    }

    async fn prune_deliveries(
        &self,
        older_than_ms: i64,
        batch: usize,
    ) -> Result<Pruned, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let limit = sql_limit(batch);
        tx.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS prune_seqs (seq INTEGER PRIMARY KEY); \
             DELETE FROM prune_seqs;",
        )?;
        tx.prepare_cached(
            "INSERT INTO prune_seqs SELECT seq FROM deliveries \
             WHERE status IN ('delivered', 'failed') AND updated_at < ?1 LIMIT ?2",
        )?
        .execute(params![older_than_ms, limit])?;
        let mut attempts = tx
            .prepare_cached(
                "DELETE FROM attempts WHERE delivery_seq IN (SELECT seq FROM prune_seqs)",
            )?
            .execute([])?;
        let deliveries = tx
            .prepare_cached("DELETE FROM deliveries WHERE seq IN (SELECT seq FROM prune_seqs)")?
            .execute([])?;
        // Live deliveries with a long history keep their state but lose old log lines. The
        // search starts from the live queue (its partial index), never from the old attempts:
        // those are mostly the finished history still to remove, and scanning them in every
        // batch made a large cleanup quadratic.
        attempts += tx
            .prepare_cached(
                "DELETE FROM attempts WHERE seq IN (SELECT a.seq FROM deliveries d \
                 CROSS JOIN attempts a ON a.delivery_seq = d.seq \
                 WHERE d.status IN ('pending', 'waiting') AND a.at < ?1 LIMIT ?2)",
            )?
            .execute(params![older_than_ms, limit])?;
        tx.execute_batch("DELETE FROM prune_seqs")?;
        tx.commit()?;
        Ok(Pruned {
            deliveries: deliveries as u64,
            attempts: attempts as u64,
        })
    }
}
