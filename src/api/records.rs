//! Record changes from the app: `POST /apps/{id}/records` (signed like the Pusher REST API),
//! and `created` / `updated` / `deleted` events published through `/events` or
//! `/batch_events` on a collection channel, which are delivered as the same change (so a
//! Laravel broadcast of `{action, record}` works unchanged).
//!
//! Everything is checked before anything is delivered: the body, every collection, the
//! socket to exclude, the Redis link with scaling on (503 while it is down, as for events) and
//! the app's REST budget.

use crate::proto::api::realtime::RealtimeError;
use crate::proto::api::records::{change_of_event, parse_records, RecordChange};
use crate::proto::api::EventRequest;
use crate::proto::http::Response;
use crate::proto::pusher::SocketId;
use crate::shard::Port;

/// `POST /apps/{id}/records`: one change or a batch.
pub fn ingest(port: &Port, app: usize, body: &[u8]) -> Response {
    let batch = match parse_records(body) {
        Ok(b) => b,
        Err(e) => return e.to_response(),
    };
    if let Some(unknown) = batch
        .changes
        .iter()
        .find(|c| !is_collection(port, app, &c.collection))
    {
        return RealtimeError::UnknownCollection(unknown.collection.clone()).to_response();
    }
    let except = match batch.socket_id.as_deref().map(str::parse::<SocketId>) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            let why = "invalid socket_id: expected two numbers joined by a dot, like 123.456";
            return RealtimeError::BadBody(why.into()).to_response();
        }
    };
    if port.link_down() {
        return super::events::unforwarded(port, app, batch.changes.len());
    }
    if !port.take_backend_budget(app, batch.changes.len() as u32) {
        return super::events::over_budget(port, app);
    }
    port.catch_up();
    port.publish_changes(app, batch.changes, except);
    Response::json(200, "{}")
}

/// The record changes an event carries on its collection channels, or the refusal of a bad
/// payload. Channels that are not collection channels, and other event names, are left to
/// the ordinary publish.
pub fn changes_of(
    port: &Port,
    app: usize,
    event: &EventRequest,
) -> Result<Vec<RecordChange>, Response> {
    let mut changes = Vec::new();
    for channel in &event.channels {
        let Some(collection) = collection_of(port, app, channel) else {
            continue;
        };
        let data: String = serde_json::from_str(&event.data_literal).unwrap_or_default();
        match change_of_event(collection, &event.name, &data) {
            Some(Ok(change)) => changes.push(change),
            Some(Err(e)) => return Err(e.to_response()),
            None => {}
        }
    }
    Ok(changes)
}

/// Whether the event on `channel` is a record change (delivered filtered, not published).
pub fn is_change(port: &Port, app: usize, event: &str, channel: &str) -> bool {
    matches!(event, "created" | "updated" | "deleted")
        && collection_of(port, app, channel).is_some()
}

fn collection_of<'a>(port: &Port, app: usize, channel: &'a str) -> Option<&'a str> {
    let config = &port.config().apps[app];
    let collection = channel.strip_prefix(config.realtime_prefix.as_str())?;
    is_collection(port, app, collection).then_some(collection)
}

fn is_collection(port: &Port, app: usize, collection: &str) -> bool {
    let config = &port.config().apps[app];
    config.collections.iter().any(|c| c.name == collection)
}
