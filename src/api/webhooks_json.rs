//! How the managed-webhooks API renders endpoints, the delivery log and statistics as JSON.
//!
//! Pure formatting of store records; the secret appears only where the caller asks for it (the
//! create answer), so listings never leak it. Nothing here talks to the control core.

use serde_json::{json, Value};

use crate::store::{Delivery, Endpoint, EndpointStats, LogEntry, Page};

/// One endpoint; `with_secret` adds its signing secret.
pub fn endpoint(ep: &Endpoint, with_secret: bool) -> Value {
    let mut v = json!({
        "id": ep.id,
        "name": ep.name,
        "url": ep.url,
        "events": ep.events,
        "tenant_id": ep.tenant_id,
        "is_active": ep.is_active,
        "max_retries": ep.max_retries,
        "retry_delays": ep.retry_delays,
        "headers": ep.headers,
        "rate_limit_per_s": ep.rate_limit_per_s,
        "format": ep.format.as_str(),
        "created_at_ms": ep.created_at_ms,
        "updated_at_ms": ep.updated_at_ms,
    });
    if with_secret {
        v["secret"] = json!(ep.secret);
    }
    v
}

/// A page of the delivery log with the cursor of the next one.
pub fn log(page: &Page<LogEntry>) -> Value {
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|e| {
            json!({
                "delivery_id": e.delivery_id,
                "event": e.event,
                "status": e.delivery_status.as_str(),
                "attempt": e.attempt.attempt,
                "status_code": e.attempt.status_code,
                "latency_ms": e.attempt.latency_ms,
                "error": e.attempt.error,
                "at_ms": e.attempt.at_ms,
            })
        })
        .collect();
    json!({ "deliveries": items, "next_before": page.next })
}

/// Per-endpoint figures and the ids of the failing endpoints (open breaker or failures in a
/// row), at `now_ms`.
pub fn stats(all: &[EndpointStats], now_ms: i64) -> Value {
    let failing =
        |s: &EndpointStats| s.breaker.is_open(now_ms) || s.breaker.consecutive_failures > 0;
    let endpoints: Vec<Value> = all
        .iter()
        .map(|s| {
            let paused = s.breaker.open_until_ms.is_some_and(|u| now_ms < u);
            let state = match (paused, s.breaker.probing) {
                (true, _) => "open",
                (false, true) => "half_open",
                (false, false) => "closed",
            };
            json!({
                "endpoint_id": s.endpoint_id,
                "name": s.name,
                "attempts": s.attempts,
                "successes": s.successes,
                "success_rate": s.success_rate,
                "avg_response_ms": s.avg_latency_ms,
                "consecutive_failures": s.breaker.consecutive_failures,
                "breaker": state,
            })
        })
        .collect();
    let failing: Vec<&str> = all
        .iter()
        .filter(|s| failing(s))
        .map(|s| s.endpoint_id.as_str())
        .collect();
    json!({ "endpoints": endpoints, "failing": failing })
}

/// A delivery just recorded or requeued: where it stands and when it is due.
pub fn delivery(d: &Delivery) -> Value {
    json!({
        "delivery_id": d.id,
        "endpoint_id": d.endpoint_id,
        "event": d.event,
        "status": d.status.as_str(),
        "attempts": d.attempt,
        "next_attempt_at_ms": d.next_attempt_at_ms,
        "created_at_ms": d.created_at_ms,
    })
}
