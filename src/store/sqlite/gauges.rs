//! Counts for monitoring: the delivery queue's depth and the breakers open now.
//!
//! Plain SQLite reads outside the store traits, since only the `/metrics` gauges of the
//! control core need them; the due-deliveries index makes the queue count cheap.

use rusqlite::params;

use super::SqliteStore;
use crate::store::error::StoreError;

/// What the gauges show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookGauges {
    /// Deliveries pending or waiting.
    pub queued: u64,
    /// Endpoints whose breaker is open at the time asked.
    pub breakers_open: u64,
}

impl SqliteStore {
    /// The queue depth and the breakers open at `now_ms`.
    pub fn webhook_gauges(&self, now_ms: i64) -> Result<WebhookGauges, StoreError> {
        let queued: i64 = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM deliveries WHERE status IN ('pending', 'waiting')",
            )?
            .query_row([], |r| r.get(0))?;
        let breakers_open: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM breakers WHERE open_until > ?1")?
            .query_row(params![now_ms], |r| r.get(0))?;
        Ok(WebhookGauges {
            queued: queued as u64,
            breakers_open: breakers_open as u64,
        })
    }
}
