//! The REST API: routing, request authentication and the handlers.
//!
//! Requests arrive here fully read (head and body) from the shard's HTTP connection; each
//! handler returns a [`Response`]. Signing rules and body formats live in `proto::api`; this
//! module applies them to the shard's state.

mod events;
mod health;

use crate::proto::api::verify_request;
use crate::proto::http::{self, RequestHead, Response};
use crate::shard::Shard;

/// Answers one REST request.
pub fn handle(shard: &Shard, head: &RequestHead, body: &[u8], now_unix: u64) -> Response {
    let path = head.path.as_str();
    match (head.method.as_str(), path) {
        ("GET", "/up") => return health::up(),
        ("GET", "/api/v1/websocket/health") => return health::websocket_health(shard),
        _ => {}
    }
    let Some(rest) = path.strip_prefix("/apps/") else {
        return not_found(head);
    };
    let (app_id, endpoint) = rest.split_once('/').unwrap_or((rest, ""));
    let Some(app) = shard.app_by_id(app_id) else {
        return Response::error(404, &format!("unknown app id '{app_id}'"));
    };
    let params = match http::parse_query(&head.query) {
        Ok(p) => p,
        Err(e) => return Response::error(400, &e.to_string()),
    };
    let config = &shard.config.apps[app];
    if let Err(e) = verify_request(
        &head.method,
        path,
        &params,
        body,
        &config.key,
        &config.secret,
        now_unix,
    ) {
        return e.to_response();
    }
    match (head.method.as_str(), endpoint) {
        ("POST", "events") => events::trigger(shard, app, body),
        ("POST", "batch_events") => events::trigger_batch(shard, app, body),
        _ => not_found(head),
    }
}

fn not_found(head: &RequestHead) -> Response {
    Response::error(404, &format!("no route for {} {}", head.method, head.path))
}
