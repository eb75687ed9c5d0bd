//! Recording the deliveries of published events: every endpoint whose patterns match gets one
//! delivery per event, all written in one transaction (the group commit) before the publisher
//! is answered, so an accepted event is never lost to a crash.
//!
//! It never sends anything; the delivery loop picks the rows up (rung through
//! [`super::due`]).

use std::cell::RefCell;

use super::directory::Directory;
use super::msg::Published;
use crate::store::{DeliveryStore, NewDelivery, StoreError};
use crate::webhook::body::{business_body, BusinessEvent};
use crate::webhook::endpoint::Format;
use crate::webhook::signing::new_message_id;

/// Records the deliveries of `events` published to `app_id` at `now_ms`; returns how many.
pub async fn record<S: DeliveryStore>(
    store: &S,
    dir: &RefCell<Directory>,
    app_id: &str,
    events: &[Published],
    now_ms: i64,
) -> Result<usize, StoreError> {
    let batch = deliveries(&dir.borrow(), app_id, events, now_ms)?;
    if !batch.is_empty() {
        store.insert_deliveries(&batch).await?;
        // Due now: the delivery loop reads them at once rather than at its next read.
        super::due::ring(now_ms);
    }
    Ok(batch.len())
}

/// One delivery per matching standard-format endpoint and event.
fn deliveries(
    dir: &Directory,
    app_id: &str,
    events: &[Published],
    now_ms: i64,
) -> Result<Vec<NewDelivery>, StoreError> {
    let mut batch = Vec::new();
    for ev in events {
        // Pusher-format endpoints get channel webhooks, not business events.
        let targets = dir
            .matching(app_id, &ev.name, &ev.channels)
            .filter(|ep| ep.format == Format::Standard);
        for ep in targets {
            let id = new_message_id(now_ms).map_err(|e| StoreError::Backend(e.to_string()))?;
            let body = business_body(&BusinessEvent {
                id: &id,
                event: &ev.name,
                at_ms: now_ms,
                channels: &ev.channels,
                data: &ev.data,
            });
            batch.push(NewDelivery {
                id,
                endpoint_id: ep.id.clone(),
                event: ev.name.clone(),
                body,
                created_at_ms: now_ms,
                next_attempt_at_ms: now_ms,
            });
        }
    }
    Ok(batch)
}
