//! `POST /apps/{id}/events` and `POST /apps/{id}/batch_events`: publish to channels.
//!
//! Each channel's frame is encoded once here and then shared by every subscriber on every core.

use std::sync::atomic::Ordering;

use serde_json::{json, Value};

use super::channels::info_for;
use super::records;
use super::webhooks;
use crate::proto::api::{parse_batch, parse_event, EventRequest, Limits};
use crate::proto::http::Response;
use crate::proto::pusher::{self, SocketId};
use crate::shard::Port;

/// Publishes one event to up to `max_channels_per_event` channels.
pub async fn trigger(port: &Port, app: usize, body: &[u8]) -> Response {
    let event = match parse_event(body, &limits(port, app)) {
        Ok(e) => e,
        Err(e) => return e.to_response(),
    };
    let except = match validate(&event) {
        Ok(except) => except,
        Err(resp) => return resp,
    };
    let changes = match records::changes_of(port, app, &event) {
        Ok(changes) => changes,
        Err(resp) => return resp,
    };
    if port.link_down() {
        return unforwarded(port, app, 1);
    }
    if !port.take_backend_budget(app, 1) {
        return over_budget(port, app);
    }
    if let Err(resp) = webhooks::record_deliveries(port, app, &[&event]).await {
        return resp;
    }
    port.catch_up();
    send(port, app, &event, except);
    port.publish_changes(app, changes, except);
    match &event.info {
        Some(info) => match info_for(port, app, &event.channels, info).await {
            Ok(channels) => Response::json(200, json!({ "channels": channels }).to_string()),
            Err(resp) => resp,
        },
        None => Response::json(200, "{}"),
    }
}

/// Publishes several events; nothing is sent unless all of them are valid.
pub async fn trigger_batch(port: &Port, app: usize, body: &[u8]) -> Response {
    let events = match parse_batch(body, &limits(port, app)) {
        Ok(e) => e,
        Err(e) => return e.to_response(),
    };
    let mut checked = Vec::with_capacity(events.len());
    for event in &events {
        match (validate(event), records::changes_of(port, app, event)) {
            (Ok(except), Ok(changes)) => checked.push((event, except, changes)),
            (Err(resp), _) | (_, Err(resp)) => return resp,
        }
    }
    if port.link_down() {
        return unforwarded(port, app, checked.len());
    }
    if !port.take_backend_budget(app, checked.len() as u32) {
        return over_budget(port, app);
    }
    let all: Vec<&EventRequest> = checked.iter().map(|(e, _, _)| *e).collect();
    if let Err(resp) = webhooks::record_deliveries(port, app, &all).await {
        return resp;
    }
    port.catch_up();
    for (event, except, changes) in checked {
        send(port, app, event, except);
        port.publish_changes(app, changes, except);
    }
    let mut results = Vec::with_capacity(events.len());
    for event in &events {
        let attrs = match &event.info {
            Some(info) => match info_for(port, app, &event.channels, info).await {
                Ok(Value::Object(map)) => map
                    .get(event.channels.first().map_or("", String::as_str))
                    .cloned()
                    .unwrap_or_else(|| json!({})),
                Ok(_) => json!({}),
                Err(resp) => return resp,
            },
            None => json!({}),
        };
        results.push(attrs);
    }
    Response::json(200, json!({ "batch": results }).to_string())
}

pub(super) fn over_budget(port: &Port, app: usize) -> Response {
    let limit = port.config().apps[app].max_backend_events_per_second;
    Response::error(
        429,
        &format!("too many events: this app may publish {limit} per second (max_backend_events_per_second)"),
    )
    .with_header("Retry-After", "1")
}

/// The answer while the Redis link is down: nothing was published (not even locally, so a
/// retry cannot deliver twice here), counted for `/metrics` and logged.
pub(super) fn unforwarded(port: &Port, app: usize, events: usize) -> Response {
    let shared = port.shared();
    let total = shared
        .unforwarded
        .fetch_add(events as u64, Ordering::Relaxed)
        + events as u64;
    let app_id = &port.config().apps[app].id;
    tracing::warn!(app_id = %app_id, events, unforwarded_total = total, "REST publish refused: the Redis link to the other nodes is down");
    Response::error(
        503,
        "the link to the other nodes (Redis) is down, so the event cannot reach every \
         subscriber; nothing was published: retry once Redis is reachable",
    )
    .with_header("Retry-After", "1")
}

fn limits(port: &Port, app: usize) -> Limits {
    let app = &port.config().apps[app];
    Limits {
        max_data_bytes: app.max_message_size,
        max_channels: app.max_channels_per_event,
        max_event_name_len: app.max_event_name_length,
        ..Limits::default()
    }
}

/// Checks channel names and the excluded socket id; returns the parsed socket id.
fn validate(event: &EventRequest) -> Result<Option<SocketId>, Response> {
    for channel in &event.channels {
        // `#server-to-user-{id}` is how the SDKs' sendToUser reaches a signed-in user.
        if pusher::server_to_user_id(channel).is_some() {
            continue;
        }
        if let Err(e) = pusher::channel_kind(channel) {
            return Err(Response::error(
                400,
                &format!("invalid channel '{channel}': {e}"),
            ));
        }
    }
    match &event.socket_id {
        None => Ok(None),
        Some(s) => s.parse::<SocketId>().map(Some).map_err(|_| {
            Response::error(
                400,
                &format!(
                    "invalid socket_id '{s}': expected two numbers joined by a dot, like 123.456"
                ),
            )
        }),
    }
}

fn send(port: &Port, app: usize, event: &EventRequest, except: Option<SocketId>) {
    for channel in &event.channels {
        if records::is_change(port, app, &event.name, channel) {
            continue;
        }
        let data = [event.data_literal.as_str()];
        let frame = pusher::channel_event_frame(&event.name, channel, &data, None);
        port.publish(app, channel, frame, except);
    }
}
