//! `EndpointStore` on SQLite: endpoint rows (list fields as JSON text), breakers and stats.
//!
//! Owns the SQL for these tables only; validation happened before (`proto::api::webhooks`).

use rusqlite::{params, OptionalExtension, Row};

use super::{duplicate_or, SqliteStore};
use crate::store::error::StoreError;
use crate::store::types::{Endpoint, EndpointStats, NewEndpoint};
use crate::store::EndpointStore;
use crate::webhook::breaker::BreakerState;
use crate::webhook::endpoint::{EndpointPatch, Format};

const COLUMNS: &str = "id, app_id, name, url, events, tenant_id, is_active, max_retries, \
     retry_delays, secret, headers, rate_limit_per_s, format, created_at, updated_at";

/// Decodes a row selected with `COLUMNS`; JSON or enum columns that do not decode are
/// reported as `Corrupt` with the endpoint id.
fn endpoint_from(row: &Row<'_>) -> rusqlite::Result<Result<Endpoint, StoreError>> {
    let id: String = row.get(0)?;
    let events: String = row.get(4)?;
    let delays: String = row.get(8)?;
    let headers: String = row.get(10)?;
    let format: String = row.get(12)?;
    let decoded = (|| {
        Ok::<_, StoreError>(Endpoint {
            app_id: row.get(1)?,
            name: row.get(2)?,
            url: row.get(3)?,
            events: serde_json::from_str(&events)?,
            tenant_id: row.get(5)?,
            is_active: row.get(6)?,
            max_retries: row.get(7)?,
            retry_delays: serde_json::from_str(&delays)?,
            secret: row.get(9)?,
            headers: serde_json::from_str(&headers)?,
            rate_limit_per_s: row.get(11)?,
            format: Format::parse(&format)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown format '{format}'")))?,
            created_at_ms: row.get(13)?,
            updated_at_ms: row.get(14)?,
            id: id.clone(),
        })
    })();
    Ok(decoded.map_err(|e| StoreError::Corrupt(format!("endpoint '{id}': {e}"))))
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        what: "endpoint",
        id: id.to_owned(),
    }
}

impl SqliteStore {
    fn select_endpoints(&self, filter: &str, args: &[&str]) -> Result<Vec<Endpoint>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM endpoints {filter} ORDER BY created_at, id");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), endpoint_from)?;
        rows.map(|r| r?).collect()
    }

    /// Runs `sql` with the endpoint's fields bound as ?1..?15 in `COLUMNS` order.
    fn write_endpoint(&self, sql: &str, ep: &Endpoint) -> Result<usize, StoreError> {
        let n = self
            .conn
            .prepare_cached(sql)?
            .execute(params![
                ep.id,
                ep.app_id,
                ep.name,
                ep.url,
                serde_json::to_string(&ep.events)?,
                ep.tenant_id,
                ep.is_active,
                ep.max_retries,
                serde_json::to_string(&ep.retry_delays)?,
                ep.secret,
                serde_json::to_string(&ep.headers)?,
                ep.rate_limit_per_s,
                ep.format.as_str(),
                ep.created_at_ms,
                ep.updated_at_ms,
            ])
            .map_err(|e| duplicate_or(e, "endpoint", &ep.id))?;
        Ok(n)
    }
}

impl EndpointStore for SqliteStore {
    async fn create_endpoint(&self, new: NewEndpoint) -> Result<Endpoint, StoreError> {
        let ep = Endpoint::from_new(new);
        let sql = format!(
            "INSERT INTO endpoints ({COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        );
        self.write_endpoint(&sql, &ep)?;
        Ok(ep)
    }

    async fn get_endpoint(&self, app_id: &str, id: &str) -> Result<Endpoint, StoreError> {
        self.select_endpoints("WHERE app_id = ?1 AND id = ?2", &[app_id, id])?
            .pop()
            .ok_or_else(|| not_found(id))
    }

    async fn list_endpoints(&self, app_id: &str) -> Result<Vec<Endpoint>, StoreError> {
        self.select_endpoints("WHERE app_id = ?1", &[app_id])
    }

    async fn all_endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        self.select_endpoints("", &[])
    }

    async fn update_endpoint(
        &self,
        app_id: &str,
        id: &str,
        patch: &EndpointPatch,
        now_ms: i64,
    ) -> Result<Endpoint, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let mut ep = self.get_endpoint(app_id, id).await?;
        ep.apply(patch, now_ms);
        // Updated in place: REPLACE would delete the row first and cascade to its deliveries.
        self.write_endpoint(
            "UPDATE endpoints SET app_id = ?2, name = ?3, url = ?4, events = ?5, tenant_id = ?6, \
             is_active = ?7, max_retries = ?8, retry_delays = ?9, secret = ?10, headers = ?11, \
             rate_limit_per_s = ?12, format = ?13, created_at = ?14, updated_at = ?15 \
             WHERE id = ?1",
            &ep,
        )?;
        tx.commit()?;
        Ok(ep)
    }

    async fn delete_endpoint(&self, app_id: &str, id: &str) -> Result<(), StoreError> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM endpoints WHERE app_id = ?1 AND id = ?2")?
            .execute(params![app_id, id])?;
        if n == 0 {
            return Err(not_found(id));
        }
        Ok(())
    }

    async fn get_breaker(&self, endpoint_id: &str) -> Result<BreakerState, StoreError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT consecutive_failures, open_until, probing FROM breakers \
                 WHERE endpoint_id = ?1",
            )?
            .query_row([endpoint_id], |r| {
                Ok(BreakerState {
                    consecutive_failures: r.get(0)?,
                    open_until_ms: r.get(1)?,
                    probing: r.get(2)?,
                })
            })
            .optional()?;
        Ok(row.unwrap_or_default())
    }

    async fn put_breaker(&self, endpoint_id: &str, b: &BreakerState) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO breakers (endpoint_id, consecutive_failures, open_until, probing) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT(endpoint_id) DO UPDATE SET \
                 consecutive_failures = ?2, open_until = ?3, probing = ?4",
            )?
            .execute(params![
                endpoint_id,
                b.consecutive_failures,
                b.open_until_ms,
                b.probing
            ])
            .map_err(|e| match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::ConstraintViolation) => not_found(endpoint_id),
                _ => e.into(),
            })?;
        Ok(())
    }

    async fn endpoint_stats(
        &self,
        app_id: &str,
        since_ms: i64,
    ) -> Result<Vec<EndpointStats>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.id, e.name, \
               (SELECT COUNT(*) FROM attempts a WHERE a.endpoint_id = e.id AND a.at >= ?2), \
               (SELECT COUNT(*) FROM attempts a WHERE a.endpoint_id = e.id AND a.at >= ?2 \
                  AND a.status_code BETWEEN 200 AND 299), \
               (SELECT AVG(latency_ms) FROM attempts a WHERE a.endpoint_id = e.id AND a.at >= ?2), \
               b.consecutive_failures, b.open_until, b.probing \
             FROM endpoints e LEFT JOIN breakers b ON b.endpoint_id = e.id \
             WHERE e.app_id = ?1 ORDER BY e.created_at, e.id",
        )?;
        let rows = stmt.query_map(params![app_id, since_ms], |r| {
            let attempts = r.get::<_, i64>(2)?.max(0) as u64;
            let successes = r.get::<_, i64>(3)?.max(0) as u64;
            Ok(EndpointStats {
                endpoint_id: r.get(0)?,
                name: r.get(1)?,
                attempts,
                successes,
                success_rate: (attempts > 0).then(|| successes as f64 / attempts as f64),
                avg_latency_ms: r.get(4)?,
                breaker: BreakerState {
                    consecutive_failures: r.get::<_, Option<u32>>(5)?.unwrap_or(0),
                    open_until_ms: r.get(6)?,
                    probing: r.get::<_, Option<bool>>(7)?.unwrap_or(false),
                },
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
