//! Deliveries in Redis: a hash per delivery, a due set and a lease set ordered by time, an
//! attempt log per endpoint, claims with fencing tokens.
//!
//! The fencing token is the row's `token` (a cluster-wide counter, moved on by every claim and
//! replay) and travels with the claim as [`Delivery::lease`], so any node can finish a claim
//! it holds and a late owner's outcome is dropped.

use super::{arg, array, below, integer, opt_arg, scripts, text, RedisStore, Row};
use crate::store::error::StoreError;
use crate::store::types::{
    AttemptRecord, Delivery, DeliveryStatus, Finished, LogEntry, NewDelivery, Page, Pruned,
};
use crate::store::DeliveryStore;
use crate::webhook::retry::NextState;

fn delivery(mut row: Row) -> Result<Delivery, StoreError> {
    let status = row.text("status")?;
    Ok(Delivery {
        id: row.text("id")?,
        endpoint_id: row.text("ep")?,
        event: row.text("event")?,
        body: row.bytes("body"),
        created_at_ms: row.num("created")?,
        next_attempt_at_ms: row.num("next")?,
        attempt: row.num("attempt")?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("delivery status '{status}'")))?,
        lease: row.num("token")?,
    })
}

/// An attempt as the scripts store it: every value a string, `x` empty or `=` and the error.
#[derive(serde::Deserialize)]
struct AttemptRow {
    d: String,
    a: String,
    c: String,
    l: String,
    x: String,
    t: String,
}

impl AttemptRow {
    fn record(self) -> Result<AttemptRecord, StoreError> {
        let bad = |field: &str| StoreError::Corrupt(format!("attempt field '{field}'"));
        Ok(AttemptRecord {
            attempt: self.a.parse().map_err(|_| bad("a"))?,
            status_code: match self.c.as_str() {
                "" => None,
                c => Some(c.parse().map_err(|_| bad("c"))?),
            },
            latency_ms: self.l.parse().map_err(|_| bad("l"))?,
            error: self.x.strip_prefix('=').map(str::to_owned),
            at_ms: self.t.parse().map_err(|_| bad("t"))?,
        })
    }
}

/// The script arguments of one outcome (see `d_finish.lua`).
fn outcome_args(out: &mut Vec<Vec<u8>>, f: &Finished) {
    let (status, due) = DeliveryStatus::after(&f.next);
    out.push(arg(&f.id));
    out.push(arg(f.lease));
    out.push(arg(status.as_str()));
    out.push(due.map(arg).unwrap_or_default());
    match &f.attempt {
        Some(a) => {
            out.push(arg(a.attempt));
            out.push(a.status_code.map(arg).unwrap_or_default());
            out.push(arg(a.latency_ms));
            out.push(opt_arg(a.error.as_deref()));
            out.push(arg(a.at_ms));
        }
        None => out.resize(out.len() + 5, Vec::new()),
    }
}

impl RedisStore {
    /// Ends leases; outcomes of claims that were taken over are dropped and logged. How many
    /// were recorded.
    async fn finish(&self, batch: &[Finished], now_ms: i64) -> Result<usize, StoreError> {
        let mut args = vec![arg(now_ms), arg(batch.len())];
        for f in batch {
            outcome_args(&mut args, f);
        }
        let stale = array(self.eval(&scripts::D_FINISH, args).await?)?;
        let recorded = batch.len().saturating_sub(stale.len());
        for id in stale {
            let id = text(id)?;
            tracing::warn!(
                delivery = %id,
                "outcome dropped: the lease ran out and another claim took the delivery"
            );
        }
        Ok(recorded)
    }
}

impl DeliveryStore for RedisStore {
    async fn insert_deliveries(&self, batch: &[NewDelivery]) -> Result<(), StoreError> {
        let mut args = vec![arg(batch.len())];
        for d in batch {
            args.extend([
                arg(&d.id),
                arg(&d.endpoint_id),
                arg(&d.event),
                d.body.clone(),
                arg(d.created_at_ms),
                arg(d.next_attempt_at_ms),
            ]);
        }
        self.eval(&scripts::D_INSERT, args).await.map(drop)
    }

    async fn claim_due_deliveries(
        &self,
        up_to_ms: i64,
        expired_by_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let args = vec![
            arg(up_to_ms),
            arg(expired_by_ms),
            arg(lease_until_ms),
            arg(limit),
        ];
        let rows = array(self.eval(&scripts::D_CLAIM, args).await?)?;
        rows.into_iter()
            .map(|frame| delivery(Row::parse(frame)?))
            .collect()
    }

    async fn get_delivery(&self, id: &str) -> Result<Delivery, StoreError> {
        let key = self.key(&format!("d:{id}"));
        let row = Row::parse(self.command(&[b"HGETALL", key.as_bytes()]).await?)?;
        if row.is_empty() {
            return Err(StoreError::NotFound {
                what: "delivery",
                id: id.to_owned(),
            });
        }
        delivery(row)
    }

    async fn finish_attempt(
        &self,
        id: &str,
        lease: u64,
        attempt: Option<&AttemptRecord>,
        next: &NextState,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let one = Finished {
            id: id.to_owned(),
            lease,
            attempt: attempt.cloned(),
            next: next.clone(),
        };
        Ok(self.finish(std::slice::from_ref(&one), now_ms).await? == 1)
    }

    async fn finish_attempts(&self, batch: &[Finished], now_ms: i64) -> Result<usize, StoreError> {
        self.finish(batch, now_ms).await
    }

    async fn delivery_log(
        &self,
        endpoint_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Page<LogEntry>, StoreError> {
        let args = vec![arg(endpoint_id), below(before), arg(limit)];
        let rows = array(self.eval(&scripts::D_LOG, args).await?)?;
        let mut items = Vec::with_capacity(rows.len());
        let mut last = None;
        for row in rows {
            let mut cols = array(row)?.into_iter().map(super::bytes);
            let mut next = || {
                cols.next()
                    .unwrap_or_else(|| Err(StoreError::Backend("a log row is short".into())))
            };
            let seq = String::from_utf8_lossy(&next()?).parse::<i64>().ok();
            let mut rec: AttemptRow = serde_json::from_slice(&next()?)?;
            let delivery_id = std::mem::take(&mut rec.d);
            let event = String::from_utf8_lossy(&next()?).into_owned();
            let status = String::from_utf8_lossy(&next()?).into_owned();
            last = seq;
            items.push(LogEntry {
                delivery_id,
                event,
                delivery_status: DeliveryStatus::parse(&status)
                    .ok_or_else(|| StoreError::Corrupt(format!("delivery status '{status}'")))?,
                attempt: rec.record()?,
            });
        }
        Ok(Page {
            next: (items.len() == limit).then_some(last).flatten(),
            items,
        })
    }

    async fn requeue_delivery(
        &self,
        endpoint_id: &str,
        id: &str,
        now_ms: i64,
    ) -> Result<Delivery, StoreError> {
        let args = vec![arg(endpoint_id), arg(id), arg(now_ms)];
        delivery(Row::parse(self.eval(&scripts::D_REQUEUE, args).await?)?)
    }

    async fn prune_deliveries(
        &self,
        older_than_ms: i64,
        batch: usize,
    ) -> Result<Pruned, StoreError> {
        let args = vec![arg(older_than_ms), arg(batch)];
        let mut counts = array(self.eval(&scripts::D_PRUNE, args).await?)?.into_iter();
        let mut next = || counts.next().map_or(Ok(0), integer);
        Ok(Pruned {
            deliveries: next()?.max(0) as u64,
            attempts: next()?.max(0) as u64,
        })
    }
}
