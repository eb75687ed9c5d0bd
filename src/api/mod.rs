//! The REST API: routing, request authentication and the handlers.
//!
//! Requests arrive here fully read (head and body) from the shard's HTTP connection; each
//! handler returns a [`Response`]. Signing rules and body formats live in `proto::api`; this
//! module applies them to the shard's state. Reads that need every core's view (channel
//! counts, presence members) are asked of all cores and computed from their live state.

mod channels;
mod events;
mod health;
mod metrics;
mod metrics_webhooks;
mod notifications;
mod realtime;
mod records;
mod users;
mod webhook_actions;
mod webhooks;
mod webhooks_json;

use std::future::Future;
use std::pin::Pin;

use crate::proto::api::verify_signed;
use crate::proto::http::{self, RequestHead, Response};
use crate::shard::Port;

/// Answers one REST request; the shard's [`crate::shard::RestHandler`].
pub fn handle<'a>(
    port: &'a Port,
    head: &'a RequestHead,
    body: &'a [u8],
    now_unix: u64,
) -> Pin<Box<dyn Future<Output = Response> + 'a>> {
    Box::pin(route(port, head, body, now_unix))
}

async fn route(port: &Port, head: &RequestHead, body: &[u8], now_unix: u64) -> Response {
    let path = head.path.as_str();
    match (head.method.as_str(), path) {
        ("GET", "/up") => return health::up(),
        ("GET", "/api/v1/websocket/health") => return health::websocket_health(port),
        ("GET", "/metrics") => return metrics::render(port),
        ("POST", "/api/realtime/subscribe") => {
            return realtime::subscribe(port, head, body, now_unix).await
        }
        _ => {}
    }
    let Some(rest) = path.strip_prefix("/apps/") else {
        return not_found(head);
    };
    let (app_id, endpoint) = rest.split_once('/').unwrap_or((rest, ""));
    let Some(app) = port.app_by_id(app_id) else {
        return Response::error(404, &format!("unknown app id '{app_id}'"));
    };
    let params = match http::parse_query(&head.query) {
        Ok(p) => p,
        Err(e) => return Response::error(400, &e.to_string()),
    };
    let config = &port.config().apps[app];
    if let Err(e) = verify_signed(
        &head.method,
        path,
        &params,
        body,
        &config.key,
        port.signing_key(app),
        now_unix,
    ) {
        return e.to_response();
    }
    let segments: Vec<&str> = endpoint.split('/').collect();
    let decoded = |s: &str| http::percent_decode(s).unwrap_or_else(|_| s.to_owned());
    let info = http::query_value(&params, "info");
    match (head.method.as_str(), segments.as_slice()) {
        ("POST", ["events"]) => events::trigger(port, app, body).await,
        ("POST", ["batch_events"]) => events::trigger_batch(port, app, body).await,
        ("POST", ["records"]) => records::ingest(port, app, body),
        ("GET", ["channels"]) => {
            let prefix = http::query_value(&params, "filter_by_prefix").unwrap_or("");
            channels::list(port, app, prefix, info).await
        }
        ("GET", ["channels", name]) => channels::one(port, app, &decoded(name), info).await,
        ("GET", ["channels", name, "users"]) => channels::users(port, app, &decoded(name)).await,
        ("POST", ["users", user, "terminate_connections"]) => {
            users::terminate(port, app, &decoded(user))
        }
        (method, ["notifications", rest @ ..]) => {
            notifications::route(port, app, method, rest, &params, body).await
        }
        (method, ["webhooks", rest @ ..]) => {
            webhooks::route(port, app, method, rest, &params, body).await
        }
        _ => not_found(head),
    }
}

fn not_found(head: &RequestHead) -> Response {
    Response::error(404, &format!("no route for {} {}", head.method, head.path))
}
