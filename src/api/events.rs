//! `POST /apps/{id}/events` and `POST /apps/{id}/batch_events`: publish to channels.
//!
//! Each channel's frame is encoded once here and then shared by every subscriber on every core.

use crate::proto::api::{parse_batch, parse_event, EventRequest, Limits};
use crate::proto::http::Response;
use crate::proto::pusher::{self, SocketId};
use crate::shard::{publish, Shard};

/// Publishes one event to up to 100 channels.
pub fn trigger(shard: &Shard, app: usize, body: &[u8]) -> Response {
    let event = match parse_event(body, &limits(shard, app)) {
        Ok(e) => e,
        Err(e) => return e.to_response(),
    };
    match validate(&event) {
        Ok(except) => {
            send(shard, app, &event, except);
            Response::json(200, "{}")
        }
        Err(resp) => resp,
    }
}

/// Publishes several events; nothing is sent unless all of them are valid.
pub fn trigger_batch(shard: &Shard, app: usize, body: &[u8]) -> Response {
    let events = match parse_batch(body, &limits(shard, app)) {
        Ok(e) => e,
        Err(e) => return e.to_response(),
    };
    let mut checked = Vec::with_capacity(events.len());
    for event in &events {
        match validate(event) {
            Ok(except) => checked.push((event, except)),
            Err(resp) => return resp,
        }
    }
    for (event, except) in checked {
        send(shard, app, event, except);
    }
    let results = vec!["{}"; events.len()].join(",");
    Response::json(200, format!(r#"{{"batch":[{results}]}}"#))
}

fn limits(shard: &Shard, app: usize) -> Limits {
    Limits {
        max_data_bytes: shard.config.apps[app].max_message_size,
        ..Limits::default()
    }
}

/// Checks channel names and the excluded socket id; returns the parsed socket id.
fn validate(event: &EventRequest) -> Result<Option<SocketId>, Response> {
    for channel in &event.channels {
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

fn send(shard: &Shard, app: usize, event: &EventRequest, except: Option<SocketId>) {
    for channel in &event.channels {
        let json = pusher::channel_event(&event.name, channel, &event.data_literal, None);
        publish(shard, app, channel, crate::shard::text_frame(&json), except);
    }
}
