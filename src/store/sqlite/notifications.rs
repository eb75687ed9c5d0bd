//! `NotificationStore` on SQLite: scheduled notifications with idempotent insertion, leases,
//! paging and retention.
//!
//! Owns the SQL of `notifications`. Idempotency rests on the unique index on
//! `(app_id, client_id)`: a repeat is detected inside the insert transaction, so two equal
//! requests in one batch also yield one row.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use super::{duplicate_or, page_of, sql_limit, unknown_text, SqliteStore};
use crate::store::error::StoreError;
use crate::store::types::{
    Inserted, NewNotification, Notification, NotificationFilter, NotificationOutcome,
    NotificationStatus, Page,
};
use crate::store::NotificationStore;

const COLUMNS: &str = "id, app_id, client_id, user_id, event, payload, due_at, status, reason, \
     attempts, created_at, updated_at, seq, channel";

fn notification_from(row: &Row<'_>) -> rusqlite::Result<(Notification, i64)> {
    let status: String = row.get(7)?;
    let status: NotificationStatus = status
        .parse()
        .map_err(|_| unknown_text(7, "notification status", &status))?;
    Ok((
        Notification {
            id: row.get(0)?,
            app_id: row.get(1)?,
            client_id: row.get(2)?,
            channel: row.get(13)?,
            user_id: row.get(3)?,
            event: row.get(4)?,
            payload: row.get(5)?,
            due_at_ms: row.get(6)?,
            status,
            reason: row.get(8)?,
            attempts: row.get(9)?,
            created_at_ms: row.get(10)?,
            updated_at_ms: row.get(11)?,
        },
        row.get(12)?,
    ))
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        what: "notification",
        id: id.to_owned(),
    }
}

/// The row for `(app_id, client_id)`, if one exists.
fn by_client(
    tx: &Transaction<'_>,
    app_id: &str,
    client_id: &str,
) -> Result<Option<Notification>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM notifications WHERE app_id = ?1 AND client_id = ?2");
    let row = tx
        .prepare_cached(&sql)?
        .query_row([app_id, client_id], notification_from)
        .optional()?;
    Ok(row.map(|(n, _)| n))
}

/// Ends the lease of `id` with `outcome` if it is still pending; false when it is not.
fn settle_one(
    conn: &Connection,
    id: &str,
    outcome: &NotificationOutcome,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let (status, reason, due) = outcome.parts();
    let changed = conn
        .prepare_cached(
            "UPDATE notifications SET status = ?2, reason = ?3, due_at = COALESCE(?4, due_at), \
             attempts = attempts + 1, lease_until = NULL, updated_at = ?5 \
             WHERE id = ?1 AND status = 'pending'",
        )?
        .execute(params![id, status.as_str(), reason, due, now_ms])?;
    Ok(changed > 0)
}

/// The claim: leases pending rows due by ?1 whose lease is absent or lapsed by ?2, until ?3,
/// at most ?4, in due order. Two index walks: unleased rows in due order (a leased row is not
/// in that index, so the seconds of rows waiting on the wheel are never stepped over), and
/// rows whose lease lapsed (few, unless the previous run died holding them).
pub(super) fn claim_sql() -> String {
    format!(
        "UPDATE notifications SET lease_until = ?3 WHERE seq IN (\
           SELECT seq FROM (\
             SELECT seq, due_at FROM (SELECT seq, due_at FROM notifications \
               WHERE status = 'pending' AND lease_until IS NULL AND due_at <= ?1 \
               ORDER BY due_at, seq LIMIT ?4) \
             UNION ALL \
             SELECT seq, due_at FROM (SELECT seq, due_at FROM notifications \
               WHERE status = 'pending' AND lease_until IS NOT NULL AND lease_until <= ?2 \
               AND due_at <= ?1 ORDER BY due_at, seq LIMIT ?4) \
             ORDER BY due_at, seq LIMIT ?4)) \
         RETURNING {COLUMNS}"
    )
}

/// Counts an app's pending notifications from the covering partial index.
pub(super) const COUNT_PENDING_SQL: &str =
    "SELECT COUNT(*) FROM notifications WHERE app_id = ?1 AND status = 'pending'";

impl SqliteStore {
    fn one_notification(&self, app_id: &str, id: &str) -> Result<Notification, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM notifications WHERE app_id = ?1 AND id = ?2");
        self.conn
            .prepare_cached(&sql)?
            .query_row([app_id, id], notification_from)
            .optional()?
            .map(|(n, _)| n)
            .ok_or_else(|| not_found(id))
    }
}

impl NotificationStore for SqliteStore {
    async fn insert_notifications(
        &self,
        batch: &[NewNotification],
        now_ms: i64,
    ) -> Result<Vec<Inserted>, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let mut out = Vec::with_capacity(batch.len());
        for n in batch {
            if let Some(existing) = match &n.client_id {
                Some(cid) => by_client(&tx, &n.app_id, cid)?,
                None => None,
            } {
                out.push(Inserted {
                    notification: existing,
                    created: false,
                });
                continue;
            }
            tx.prepare_cached(
                "INSERT INTO notifications (id, app_id, client_id, user_id, event, payload, \
                 due_at, status, created_at, updated_at, channel) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?8, ?9)",
            )?
            .execute(params![
                n.id,
                n.app_id,
                n.client_id,
                n.user_id,
                n.event,
                n.payload,
                n.due_at_ms,
                now_ms,
                n.channel
            ])
            .map_err(|e| duplicate_or(e, "notification", &n.id))?;
            let notification = Notification {
                id: n.id.clone(),
                app_id: n.app_id.clone(),
                client_id: n.client_id.clone(),
                channel: n.channel.clone(),
                user_id: n.user_id.clone(),
                event: n.event.clone(),
                payload: n.payload.clone(),
                due_at_ms: n.due_at_ms,
                status: NotificationStatus::Pending,
                reason: None,
                attempts: 0,
                created_at_ms: now_ms,
                updated_at_ms: now_ms,
            };
            out.push(Inserted {
                notification,
                created: true,
            });
        }
        tx.commit()?;
        Ok(out)
    }

    async fn get_notification(&self, app_id: &str, id: &str) -> Result<Notification, StoreError> {
        self.one_notification(app_id, id)
    }

    async fn cancel_notification(
        &self,
        app_id: &str,
        id: &str,
        now_ms: i64,
    ) -> Result<Notification, StoreError> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE notifications SET status = 'cancelled', lease_until = NULL, updated_at = ?3 \
                 WHERE app_id = ?1 AND id = ?2 AND status = 'pending'",
            )?
            .execute(params![app_id, id, now_ms])?;
        let current = self.one_notification(app_id, id)?;
        if changed == 0 {
            return Err(StoreError::Conflict {
                what: "notification",
                id: id.to_owned(),
                status: current.status.as_str(),
            });
        }
        Ok(current)
    }

    async fn list_notifications(
        &self,
        app_id: &str,
        filter: &NotificationFilter<'_>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Page<Notification>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM notifications WHERE app_id = ?1 AND seq < ?2 \
             AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR user_id = ?4) \
             ORDER BY seq DESC LIMIT ?5"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![
                app_id,
                before.unwrap_or(i64::MAX),
                filter.status.map(NotificationStatus::as_str),
                filter.user_id,
                sql_limit(limit)
            ],
            notification_from,
        )?;
        let rows = rows.map(|r| r.map(|(n, seq)| (seq, n)));
        Ok(page_of(rows.collect::<Result<Vec<_>, _>>()?, limit))
    }

    async fn claim_due_notifications(
        &self,
        up_to_ms: i64,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<Notification>, StoreError> {
        let sql = claim_sql();
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![
                up_to_ms,
                now_ms,
                now_ms.saturating_add(lease_ms),
                sql_limit(limit)
            ],
            notification_from,
        )?;
        let mut claimed = rows.collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|(n, seq)| (n.due_at_ms, *seq));
        Ok(claimed.into_iter().map(|(n, _)| n).collect())
    }

    async fn settle_notification(
        &self,
        id: &str,
        outcome: &NotificationOutcome,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        if settle_one(&self.conn, id, outcome, now_ms)? {
            return Ok(());
        }
        // Not pending: cancelled while it was being sent, or settled twice.
        let status: Option<String> = self
            .conn
            .prepare_cached("SELECT status FROM notifications WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        match status.and_then(|s| s.parse::<NotificationStatus>().ok()) {
            Some(current) => Err(StoreError::Conflict {
                what: "notification",
                id: id.to_owned(),
                status: current.as_str(),
            }),
            None => Err(not_found(id)),
        }
    }

    async fn settle_notifications(
        &self,
        batch: &[(String, NotificationOutcome)],
        now_ms: i64,
    ) -> Result<Vec<bool>, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let settled = batch
            .iter()
            .map(|(id, outcome)| settle_one(&tx, id, outcome, now_ms))
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit()?;
        Ok(settled)
    }

    async fn pending_among(&self, ids: &[String]) -> Result<Vec<bool>, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let mut stmt =
            tx.prepare_cached("SELECT status = 'pending' FROM notifications WHERE id = ?1")?;
        let pending = ids
            .iter()
            .map(|id| {
                let row: Option<bool> = stmt.query_row([id], |r| r.get(0)).optional()?;
                Ok(row.unwrap_or(false))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        drop(stmt);
        tx.commit()?;
        Ok(pending)
    }

    async fn count_pending_notifications(&self, app_id: &str) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .prepare_cached(COUNT_PENDING_SQL)?
            .query_row([app_id], |r| r.get::<_, i64>(0))?
            .max(0) as u64)
    }

    async fn prune_notifications(
        &self,
        older_than_ms: i64,
        batch: usize,
    ) -> Result<u64, StoreError> {
        let n = self
            .conn
            .prepare_cached(
                "DELETE FROM notifications WHERE seq IN (SELECT seq FROM notifications \
                 WHERE status <> 'pending' AND updated_at < ?1 LIMIT ?2)",
            )?
            .execute(params![older_than_ms, sql_limit(batch)])?;
        Ok(n as u64)
    }
}
