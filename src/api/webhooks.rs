//! `/apps/{id}/webhooks…`: the managed-webhooks API (create, list, show, update, delete, the
//! delivery log and statistics; test and retry are in `webhook_actions`).
//!
//! Requests arrive already signed and checked like every REST call. Bodies are validated here
//! with `proto::api::webhooks` before anything is stored, so a refused request changes nothing;
//! the store is reached only through the control core ([`Port::ask_control`]), never from this
//! shard. DELETE answers 204 No Content. Published REST events are matched against the
//! endpoints here too ([`record_deliveries`]), before they reach any channel.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::webhook_actions;
use super::webhooks_json as render;
use crate::control::{Answer, Published, Request};
use crate::proto::api::webhooks::{parse_create, parse_patch, EndpointRequestError};
use crate::proto::api::EventRequest;
use crate::proto::http::{self, Response};
use crate::shard::Port;
use crate::store::{NewEndpoint, StoreError};
use crate::webhook::body::PUSHER_EVENT_TYPES;
use crate::webhook::endpoint::Format;
use crate::webhook::signing::generate_secret;

/// Delivery log entries per page unless `limit` asks otherwise.
const DEFAULT_PAGE: usize = 50;
/// Largest page of the delivery log.
const MAX_PAGE: usize = 500;
/// The window `stats` covers: the last 24 hours.
const STATS_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// Routes `segments` (the path after `/apps/{id}/webhooks`).
pub async fn route(
    port: &Port,
    app: usize,
    method: &str,
    segments: &[&str],
    params: &[(String, String)],
    body: &[u8],
) -> Response {
    let app_id = port.config().apps[app].id.clone();
    match (method, segments) {
        ("POST", []) => create(port, app_id, body).await,
        ("GET", []) => list(port, app_id).await,
        ("GET", ["stats"]) => stats(port, app_id).await,
        ("GET", [id]) => {
            let id = (*id).to_owned();
            answer(port, Request::GetEndpoint { app_id, id }, 200).await
        }
        ("PATCH", [id]) => update(port, app_id, id, body).await,
        ("DELETE", [id]) => {
            let id = (*id).to_owned();
            answer(port, Request::DeleteEndpoint { app_id, id }, 204).await
        }
        ("GET", [id, "deliveries"]) => deliveries(port, app_id, id, params).await,
        ("POST", [id, "test"]) => webhook_actions::test(port, app_id, id).await,
        ("POST", [id, "deliveries", did, "retry"]) => {
            webhook_actions::retry(port, app_id, id, did).await
        }
        _ => Response::error(404, &format!("no webhooks route for {method}")),
    }
}

/// Records the webhook deliveries of `events` on the control core before they are published,
/// so an accepted event is never lost; on failure the caller answers with the returned
/// response and publishes nothing.
pub async fn record_deliveries(
    port: &Port,
    app: usize,
    events: &[&EventRequest],
) -> Result<(), Response> {
    let routes = port.webhook_routes(app);
    let wanted = |e: &&EventRequest| routes.iter().any(|r| r.wants(&e.name, &e.channels));
    if !events.iter().any(wanted) {
        return Ok(());
    }
    let events = events
        .iter()
        .map(|e| Published {
            name: e.name.clone(),
            channels: e.channels.clone(),
            // The literal was parsed as a JSON string, so it decodes.
            data: serde_json::from_str(&e.data_literal).unwrap_or_default(),
        })
        .collect();
    let app_id = port.config().apps[app].id.clone();
    match port.ask_control(Request::Publish { app_id, events }).await {
        Some(Ok(Answer::Recorded(_))) => Ok(()),
        other => Err(failure(other)),
    }
}

async fn create(port: &Port, app_id: String, body: &[u8]) -> Response {
    let allowed = &port.config().webhooks.allowed_subnets;
    let spec = match parse_create(body, allowed) {
        Ok(spec) => spec,
        Err(e) => return e.to_response(),
    };
    let (secret, id) = match (generate_secret(), random_id()) {
        (Ok(secret), Ok(id)) => (secret, id),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "no randomness for a webhook secret");
            return Response::error(500, "the server could not generate a secret; retry");
        }
    };
    let new = NewEndpoint {
        id,
        app_id,
        spec,
        secret,
        now_ms: now_ms(),
    };
    match port.ask_control(Request::CreateEndpoint(new)).await {
        Some(Ok(Answer::Endpoint(ep))) => {
            Response::json(201, render::endpoint(&ep, true).to_string())
        }
        other => failure(other),
    }
}

async fn list(port: &Port, app_id: String) -> Response {
    match port.ask_control(Request::ListEndpoints { app_id }).await {
        Some(Ok(Answer::Endpoints(all))) => {
            let items: Vec<Value> = all.iter().map(|ep| render::endpoint(ep, false)).collect();
            Response::json(200, json!({ "webhooks": items }).to_string())
        }
        other => failure(other),
    }
}

/// Validates the patch, then the endpoint it would produce (a format change must still fit
/// the patterns), before storing it.
async fn update(port: &Port, app_id: String, id: &str, body: &[u8]) -> Response {
    let allowed = &port.config().webhooks.allowed_subnets;
    let patch = match parse_patch(body, allowed) {
        Ok(p) => p,
        Err(e) => return e.to_response(),
    };
    let id = id.to_owned();
    if patch.format.is_some() || patch.events.is_some() {
        let current = Request::GetEndpoint {
            app_id: app_id.clone(),
            id: id.clone(),
        };
        let mut merged = match port.ask_control(current).await {
            Some(Ok(Answer::Endpoint(ep))) => ep,
            other => return failure(other),
        };
        merged.apply(&patch, 0);
        if let Err(e) = check_events(merged.format, &merged.events) {
            return e.to_response();
        }
    }
    answer(port, Request::UpdateEndpoint { app_id, id, patch }, 200).await
}

/// A pusher-format endpoint receives only the Pusher event types.
fn check_events(format: Format, events: &[String]) -> Result<(), EndpointRequestError> {
    let odd = events
        .iter()
        .position(|e| e != "*" && !PUSHER_EVENT_TYPES.contains(&e.as_str()));
    match (format, odd) {
        (Format::Pusher, Some(i)) => Err(EndpointRequestError::Invalid {
            field: format!("events[{i}]"),
            expected: format!(
                "'*' or one of {} for a pusher-format endpoint",
                PUSHER_EVENT_TYPES.join(", ")
            ),
        }),
        _ => Ok(()),
    }
}

async fn deliveries(
    port: &Port,
    app_id: String,
    id: &str,
    params: &[(String, String)],
) -> Response {
    let limit = match http::query_value(params, "limit").map(str::parse::<usize>) {
        None => DEFAULT_PAGE,
        Some(Ok(n)) if (1..=MAX_PAGE).contains(&n) => n,
        Some(_) => {
            return Response::error(400, &format!("limit must be a number from 1 to {MAX_PAGE}"))
        }
    };
    let before = match http::query_value(params, "before").map(str::parse::<i64>) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            return Response::error(400, "before must be the next_before of the previous page")
        }
    };
    let request = Request::DeliveryLog {
        app_id,
        id: id.to_owned(),
        before,
        limit,
    };
    match port.ask_control(request).await {
        Some(Ok(Answer::Log(page))) => Response::json(200, render::log(&page).to_string()),
        other => failure(other),
    }
}

async fn stats(port: &Port, app_id: String) -> Response {
    let now = now_ms();
    let request = Request::Stats {
        app_id,
        since_ms: now - STATS_WINDOW_MS,
    };
    match port.ask_control(request).await {
        Some(Ok(Answer::Stats(all))) => Response::json(200, render::stats(&all, now).to_string()),
        other => failure(other),
    }
}

/// Sends `request` and renders an endpoint (or, for a delete, nothing) with `status`.
async fn answer(port: &Port, request: Request, status: u16) -> Response {
    match port.ask_control(request).await {
        Some(Ok(Answer::Endpoint(ep))) => {
            Response::json(status, render::endpoint(&ep, false).to_string())
        }
        Some(Ok(Answer::Deleted)) => Response::new(status),
        other => failure(other),
    }
}

/// The response for a refusal, a store failure or a silent control core (shared with the
/// notifications API).
pub(super) fn failure(outcome: Option<Result<Answer, StoreError>>) -> Response {
    match outcome {
        None => Response::error(
            503,
            "the control core did not answer in time; retry shortly",
        )
        .with_header("Retry-After", "1"),
        Some(Err(e @ StoreError::NotFound { .. })) => Response::error(404, &e.to_string()),
        Some(Err(e @ StoreError::Duplicate { .. })) => Response::error(409, &e.to_string()),
        Some(Err(e @ StoreError::ReadOnly { .. })) => Response::error(409, &e.to_string()),
        Some(Err(e)) => {
            tracing::error!(error = %e, "webhook store request failed");
            Response::error(500, &e.to_string())
        }
        Some(Ok(other)) => {
            tracing::error!(answer = ?other, "control core answered the wrong kind");
            Response::error(500, "unexpected answer from the control core")
        }
    }
}

/// A new endpoint id: `ep_` and 24 hex digits from the OS random generator.
fn random_id() -> Result<String, getrandom::Error> {
    let mut raw = [0u8; 12];
    getrandom::fill(&mut raw)?;
    Ok(format!("ep_{}", hex::encode(raw)))
}

/// Unix milliseconds, for the creation time.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pusher_format_endpoint_keeps_to_pusher_event_types() {
        let pusher = ["channel_occupied".to_owned(), "*".to_owned()];
        assert!(check_events(Format::Pusher, &pusher).is_ok());
        let business = ["channel_occupied".to_owned(), "order.paid".to_owned()];
        let err = check_events(Format::Pusher, &business).unwrap_err();
        assert_eq!(err.status(), 422);
        assert!(err.to_string().starts_with("events[1] must be"), "{err}");
        assert!(check_events(Format::Standard, &business).is_ok());
    }

    #[test]
    fn endpoint_ids_are_fresh() {
        let a = random_id().unwrap();
        assert!(a.starts_with("ep_") && a.len() == 27, "{a}");
        assert_ne!(a, random_id().unwrap());
    }
}
