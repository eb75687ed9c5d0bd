//! `GET /metrics`: the Prometheus text format, built from every shard's counters.
//!
//! Counters are read with relaxed loads at request time; nothing is aggregated on the message
//! path.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::control::LATENESS_BUCKETS;
use crate::proto::http::Response;
use crate::shard::{codes, Port, ShardStats, Shared, LATENCY_BUCKETS};

/// Renders all metrics.
pub fn render(port: &Port) -> Response {
    let mut out = String::with_capacity(4096);
    connections(&mut out, port);
    counters(&mut out, port.shared());
    errors(&mut out, port.shared());
    scaling(&mut out, port.shared());
    latency(&mut out, port.shared());
    notifications(&mut out, port);
    super::metrics_webhooks::render(&mut out, port.shared());
    Response::new(200)
        .with_header("Content-Type", "text/plain; version=0.0.4")
        .with_body(out)
}

pub(super) fn load(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// Open connections per shard and per app.
fn connections(out: &mut String, port: &Port) {
    let shared = port.shared();
    header(
        out,
        "ringcast_connections",
        "gauge",
        "Open WebSocket connections per shard.",
    );
    for (i, c) in shared.connections.iter().enumerate() {
        let _ = writeln!(out, "ringcast_connections{{shard=\"{i}\"}} {}", load(c));
    }
    header(
        out,
        "ringcast_app_connections",
        "gauge",
        "Open WebSocket connections per app.",
    );
    for (app, c) in port.config().apps.iter().zip(&shared.app_connections) {
        let _ = writeln!(
            out,
            "ringcast_app_connections{{app=\"{}\"}} {}",
            app.id,
            load(c)
        );
    }
}

/// The per-shard counters and gauges.
fn counters(out: &mut String, shared: &Shared) {
    let per_shard: [PerShard; 6] = [
        (
            "ringcast_messages_in_total",
            "WebSocket messages received from clients.",
            |s| s.messages_in.load(Ordering::Relaxed),
        ),
        (
            "ringcast_messages_out_total",
            "Event frames queued to subscribers.",
            |s| s.messages_out.load(Ordering::Relaxed),
        ),
        (
            "ringcast_slow_consumer_closes_total",
            "Connections closed (4100) because their outbound queue went over its cap.",
            |s| s.slow_consumer_closes.load(Ordering::Relaxed),
        ),
        (
            "ringcast_ring_sent_total",
            "Messages pushed into the cross-core rings.",
            |s| s.ring_sent.load(Ordering::Relaxed),
        ),
        (
            "ringcast_ring_overflow_total",
            "Messages that found a ring full and waited in the overflow queue.",
            |s| s.ring_overflowed.load(Ordering::Relaxed),
        ),
        (
            "ringcast_ring_overflow_depth",
            "Messages waiting in the overflow queues now.",
            |s| s.ring_overflow_depth.load(Ordering::Relaxed),
        ),
    ];
    for (name, help, get) in per_shard {
        let kind = if name.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        header(out, name, kind, help);
        for (i, s) in shared.stats.iter().enumerate() {
            let _ = writeln!(out, "{name}{{shard=\"{i}\"}} {}", get(s));
        }
    }
}

/// The Redis link between nodes: what it failed to carry, each counted.
fn scaling(out: &mut String, shared: &Shared) {
    let counters = [
        (
            "ringcast_scaling_unforwarded_events_total",
            "REST events refused with 503 because the Redis link to the other nodes was down.",
            &shared.unforwarded,
        ),
        (
            "ringcast_scaling_unpublished_events_total",
            "Events delivered on this node that the failing Redis link did not forward to the others.",
            &shared.unpublished,
        ),
        (
            "ringcast_scaling_missed_events_total",
            "Events other nodes published that this node never received (gaps in their sequence).",
            &shared.missed_from_nodes,
        ),
    ];
    for (name, help, value) in counters {
        header(out, name, "counter", help);
        let _ = writeln!(out, "{name} {}", load(value));
    }
}

/// Errors and close codes sent, by code.
fn errors(out: &mut String, shared: &Shared) {
    header(
        out,
        "ringcast_errors_total",
        "counter",
        "Errors and close codes sent to clients, by code.",
    );
    for (i, code) in codes().enumerate() {
        let n: u64 = shared.stats.iter().map(|s| load(&s.errors[i])).sum();
        let _ = writeln!(out, "ringcast_errors_total{{code=\"{code}\"}} {n}");
    }
}

/// The delivery-latency histogram, summed over shards.
fn latency(out: &mut String, shared: &Shared) {
    let sum_ns: u64 = shared.stats.iter().map(|s| load(&s.latency_sum_ns)).sum();
    histogram(
        out,
        (
            "ringcast_delivery_latency_seconds",
            "From a publish to its frame queued on every local subscriber's socket writer, per core.",
        ),
        &LATENCY_BUCKETS,
        |i| shared.stats.iter().map(|s| load(&s.latency_buckets[i])).sum(),
        sum_ns as f64 / 1e9,
    );
}

/// The notification scheduler: pending per app, delivered and failed totals, lateness.
fn notifications(out: &mut String, port: &Port) {
    let stats = &port.shared().notifications;
    header(
        out,
        "ringcast_notifications_pending",
        "gauge",
        "Scheduled notifications not yet delivered, per app (recounted every few seconds).",
    );
    for (app, c) in port.config().apps.iter().zip(&stats.pending) {
        let _ = writeln!(
            out,
            "ringcast_notifications_pending{{app=\"{}\"}} {}",
            app.id,
            load(c)
        );
    }
    for (name, help, c) in [
        (
            "ringcast_notifications_delivered_total",
            "Notifications published at their due time.",
            &stats.delivered,
        ),
        (
            "ringcast_notifications_failed_total",
            "Notifications given up on after their retries.",
            &stats.failed,
        ),
    ] {
        header(out, name, "counter", help);
        let _ = writeln!(out, "{name} {}", load(c));
    }
    histogram(
        out,
        (
            "ringcast_notification_lateness_seconds",
            "From a notification's deliver_at to its frame handed to the fan-out.",
        ),
        &LATENESS_BUCKETS,
        |i| load(&stats.lateness_buckets[i]),
        load(&stats.lateness_sum_ms) as f64 / 1e3,
    );
}

/// A cumulative Prometheus histogram from per-bucket counts (`count(i)`, the last is +Inf).
pub(super) fn histogram(
    out: &mut String,
    (name, help): (&str, &str),
    bounds: &[f64],
    count: impl Fn(usize) -> u64,
    sum: f64,
) {
    header(out, name, "histogram", help);
    let mut cumulative = 0u64;
    for (i, le) in bounds
        .iter()
        .map(|b| b.to_string())
        .chain(["+Inf".to_owned()])
        .enumerate()
    {
        cumulative += count(i);
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
    }
    let _ = writeln!(out, "{name}_sum {sum}");
    let _ = writeln!(out, "{name}_count {cumulative}");
}

/// A per-shard metric: name, help text, and how to read it from a shard's counters.
type PerShard = (&'static str, &'static str, fn(&ShardStats) -> u64);

pub(super) fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}
