//! The webhook part of `GET /metrics`: attempts by result, attempt latency, the queue depth and
//! the open breakers, from the control core's counters in [`Shared`].
//!
//! Only formats; the numbers are written by the control core (`control::webhook_stats`).

use std::fmt::Write;

use super::metrics::{header, histogram, load};
use crate::control::{DELIVERY_LATENCY_BUCKETS, DELIVERY_RESULTS};
use crate::shard::Shared;

/// Appends the webhook metrics to `out`.
pub fn render(out: &mut String, shared: &Shared) {
    let stats = &shared.webhooks;
    let name = "ringcast_webhook_deliveries_total";
    header(
        out,
        name,
        "counter",
        "Webhook delivery attempts by result (success: 2xx; failure: another status).",
    );
    for (result, c) in DELIVERY_RESULTS.iter().zip(&stats.results) {
        let _ = writeln!(out, "{name}{{result=\"{result}\"}} {}", load(c));
    }
    histogram(
        out,
        (
            "ringcast_webhook_delivery_latency_seconds",
            "From a webhook attempt's start to its answer or failure.",
        ),
        &DELIVERY_LATENCY_BUCKETS,
        |i| load(&stats.latency_buckets[i]),
        load(&stats.latency_sum_ms) as f64 / 1e3,
    );
    for (name, help, c) in [
        (
            "ringcast_webhook_queue_depth",
            "Webhook deliveries pending or waiting (recounted every second).",
            &stats.queued,
        ),
        (
            "ringcast_webhook_breakers_open",
            "Webhook endpoints whose circuit breaker is open (recounted every second).",
            &stats.breakers_open,
        ),
    ] {
        header(out, name, "gauge", help);
        let _ = writeln!(out, "{name} {}", load(c));
    }
}
