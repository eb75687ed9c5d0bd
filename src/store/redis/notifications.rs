//! Scheduled notifications in Redis: a hash per notification, a due set and a lease set by
//! time, an index per app by insertion, the idempotency keys per app, and the pending ids per
//! app for the count.

use super::{arg, array, below, claimed, integer, opt_arg, scripts, text, RedisStore, Row};
use crate::store::error::StoreError;
use crate::store::types::{
    Inserted, NewNotification, Notification, NotificationFilter, NotificationOutcome, Page,
};
use crate::store::NotificationStore;

/// A notification and its insertion sequence (the listing cursor).
fn notification(mut row: Row) -> Result<(Notification, i64), StoreError> {
    let status = row.text("status")?;
    let n = Notification {
        id: row.text("id")?,
        app_id: row.text("app")?,
        client_id: row.opt_text("client")?,
        channel: row.text("channel")?,
        user_id: row.opt_text("user")?,
        event: row.text("event")?,
        payload: row.bytes("payload"),
        due_at_ms: row.num("due")?,
        status: status
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("notification status '{status}'")))?,
        reason: row.opt_text("reason")?,
        attempts: row.num("attempts")?,
        created_at_ms: row.num("created")?,
        updated_at_ms: row.num("updated")?,
    };
    Ok((n, row.num("seq")?))
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        what: "notification",
        id: id.to_owned(),
    }
}

impl NotificationStore for RedisStore {
    async fn insert_notifications(
        &self,
        batch: &[NewNotification],
        now_ms: i64,
    ) -> Result<Vec<Inserted>, StoreError> {
        let mut args = vec![arg(now_ms), arg(batch.len())];
        for n in batch {
            args.extend([
                arg(&n.id),
                arg(&n.app_id),
                opt_arg(n.client_id.as_deref()),
                arg(&n.channel),
                opt_arg(n.user_id.as_deref()),
                arg(&n.event),
                n.payload.clone(),
                arg(n.due_at_ms),
            ]);
        }
        let rows = array(self.eval(&scripts::N_INSERT, args).await?)?;
        rows.into_iter()
            .map(|pair| {
                let mut cols = array(pair)?.into_iter();
                let (Some(created), Some(row)) = (cols.next(), cols.next()) else {
                    return Err(StoreError::Backend("an insert answer is short".into()));
                };
                Ok(Inserted {
                    created: integer(created)? == 1,
                    notification: notification(Row::parse(row)?)?.0,
                })
            })
            .collect()
    }

    async fn get_notification(&self, app_id: &str, id: &str) -> Result<Notification, StoreError> {
        let key = self.key(&format!("n:{id}"));
        let row = Row::parse(self.command(&[b"HGETALL", key.as_bytes()]).await?)?;
        if row.is_empty() {
            return Err(not_found(id));
        }
        let (n, _) = notification(row)?;
        match n.app_id == app_id {
            true => Ok(n),
            false => Err(not_found(id)),
        }
    }

    async fn cancel_notification(
        &self,
        app_id: &str,
        id: &str,
        now_ms: i64,
    ) -> Result<Notification, StoreError> {
        let args = vec![arg(app_id), arg(id), arg(now_ms)];
        let row = Row::parse(self.eval(&scripts::N_CANCEL, args).await?)?;
        // A claim of this node ends with the cancel: its loop skips cancelled ones unsettled.
        self.notification_claims.borrow_mut().remove(id);
        Ok(notification(row)?.0)
    }

    async fn list_notifications(
        &self,
        app_id: &str,
        filter: &NotificationFilter<'_>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Page<Notification>, StoreError> {
        let args = vec![
            arg(app_id),
            below(before),
            filter.status.map(|s| arg(s.as_str())).unwrap_or_default(),
            opt_arg(filter.user_id),
            arg(limit),
        ];
        let rows = array(self.eval(&scripts::N_LIST, args).await?)?;
        let mut items = Vec::with_capacity(rows.len());
        let mut last = None;
        for row in rows {
            let (n, seq) = notification(Row::parse(row)?)?;
            last = Some(seq);
            items.push(n);
        }
        Ok(Page {
            next: (items.len() == limit).then_some(last).flatten(),
            items,
        })
    }

    async fn claim_due_notifications(
        &self,
        up_to_ms: i64,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<Notification>, StoreError> {
        let until = now_ms.saturating_add(lease_ms);
        let args = vec![arg(up_to_ms), arg(now_ms), arg(until), arg(limit)];
        let rows = self.eval(&scripts::N_CLAIM, args).await?;
        claimed(rows, &self.notification_claims, until, |row| {
            notification(row).map(|(n, _)| (n.id.clone(), n))
        })
    }

    async fn settle_notification(
        &self,
        id: &str,
        outcome: &NotificationOutcome,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let (status, reason, due) = outcome.parts();
        let token = self
            .notification_claims
            .borrow_mut()
            .remove(id)
            .map(|(t, _)| t);
        let args = vec![
            arg(id),
            token.map(arg).unwrap_or_default(),
            arg(status.as_str()),
            opt_arg(reason),
            due.map(arg).unwrap_or_default(),
            arg(now_ms),
        ];
        if text(self.eval(&scripts::N_SETTLE, args).await?)? == "stale" {
            tracing::warn!(
                notification = %id,
                "outcome dropped: the lease ran out and another node claimed the notification"
            );
        }
        Ok(())
    }

    async fn settle_notifications(
        &self,
        batch: &[(String, NotificationOutcome)],
        now_ms: i64,
    ) -> Result<Vec<bool>, StoreError> {
        let mut args = Vec::with_capacity(1 + batch.len() * 5);
        args.push(arg(now_ms));
        {
            let mut claims = self.notification_claims.borrow_mut();
            for (id, outcome) in batch {
                let (status, reason, due) = outcome.parts();
                let token = claims.remove(id.as_str()).map(|(t, _)| t);
                args.extend([
                    arg(id),
                    token.map(arg).unwrap_or_default(),
                    arg(status.as_str()),
                    opt_arg(reason),
                    due.map(arg).unwrap_or_default(),
                ]);
            }
        }
        let codes = array(self.eval(&scripts::N_SETTLE_MANY, args).await?)?;
        let mut settled = Vec::with_capacity(codes.len());
        for ((id, _), code) in batch.iter().zip(codes) {
            let code = integer(code)?;
            if code == 2 {
                tracing::warn!(
                    notification = %id,
                    "outcome dropped: the lease ran out and another node claimed the notification"
                );
            }
            settled.push(code == 1);
        }
        Ok(settled)
    }

    async fn pending_among(&self, ids: &[String]) -> Result<Vec<bool>, StoreError> {
        let args = ids.iter().map(arg).collect();
        let flags = array(self.eval(&scripts::N_PENDING, args).await?)?;
        flags.into_iter().map(|f| Ok(integer(f)? == 1)).collect()
    }

    async fn count_pending_notifications(&self, app_id: &str) -> Result<u64, StoreError> {
        let key = self.key(&format!("npend:{app_id}"));
        Ok(integer(self.command(&[b"SCARD", key.as_bytes()]).await?)?.max(0) as u64)
    }

    async fn prune_notifications(
        &self,
        older_than_ms: i64,
        batch: usize,
    ) -> Result<u64, StoreError> {
        let args = vec![arg(older_than_ms), arg(batch)];
        Ok(integer(self.eval(&scripts::N_PRUNE, args).await?)?.max(0) as u64)
    }
}
