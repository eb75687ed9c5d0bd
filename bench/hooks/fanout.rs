//! The shards' fan-out p99 with and without webhooks flowing, in one run on one server. Run
//! with `scripts/bench webhooks` (it builds `ringcast-load` first), or
//! `cargo bench --bench webhooks_fanout` once `target/release/ringcast-load` is built.
//!
//! The same shape as the scheduler bench: the release server with two shards, the client
//! (`ringcast-load fanout`, 1,000 subscribers, 10 events/s) in its own process. First the
//! fan-out alone, with no endpoint; then [`ENDPOINTS`] endpoints for `order.*` on local
//! receivers, and a publisher sending `order.N` events at [`ORDER_RATE`] per second while the
//! same fan-out runs again, so that deliveries flow the whole time it is measured. Both p99s,
//! the deliveries made meanwhile, and the load of the machine are printed; the reports land in
//! the directory given as the first argument (default `target/bench`).

#[path = "common.rs"]
mod common;
#[path = "../../tests/support/hook_receiver.rs"]
#[allow(dead_code)]
mod hook_receiver;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

const ENDPOINTS: usize = 250;
const PORTS: usize = 4;
/// `order.*` events per second while the fan-out is measured: each makes [`ENDPOINTS`]
/// deliveries.
const ORDER_RATE: u64 = 20;
const FANOUT_SECS: &str = "20";

fn main() {
    let out = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map_or_else(|| target_dir().join("bench"), PathBuf::from);
    std::fs::create_dir_all(&out).unwrap();
    let load = target_dir().join("release/ringcast-load");
    assert!(
        load.exists(),
        "{} is missing: build it with `cargo build --release -p ringcast-load` (or run \
         `scripts/bench webhooks`)",
        load.display()
    );
    println!("load average at start: {}", load_average());
    let receivers = receivers(PORTS);
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start_server(port, data.path(), 2);
    let quiet = fanout(
        &load,
        port,
        server.id(),
        &out.join("webhooks-fanout-quiet.json"),
    );

    register(port, &receivers, ENDPOINTS, "order.*");
    let before = received(&receivers);
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = {
        let stop = stop.clone();
        std::thread::spawn(move || publish_orders(port, &stop))
    };
    let started = Instant::now();
    let busy = fanout(
        &load,
        port,
        server.id(),
        &out.join("webhooks-fanout-busy.json"),
    );
    stop.store(true, Ordering::Release);
    let published = publisher.join().unwrap();
    let delivered = received(&receivers) - before;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "webhooks meanwhile: {published} order events published, {delivered} deliveries \
         received in {secs:.1} s ({:.0} deliveries/s to {ENDPOINTS} endpoints)",
        delivered as f64 / secs
    );
    let change = (busy.1 as f64 / quiet.1.max(1) as f64 - 1.0) * 100.0;
    println!(
        "fan-out p50/p99 µs without webhooks: {}/{}; with webhooks flowing: {}/{} (p99 {change:+.0}%)",
        quiet.0, quiet.1, busy.0, busy.1
    );
    println!("load average at end: {}", load_average());
    let _ = server.kill();
    let _ = server.wait();
}

/// One `ringcast-load fanout` run; its (p50, p99) latency in µs.
fn fanout(load: &Path, port: u16, pid: u32, json: &Path) -> (u64, u64) {
    let status = Command::new(load)
        .args(["fanout", "--connections", "1000", "--rate", "10"])
        .args(["--duration", FANOUT_SECS, "--app-id", APP.0, "--key", APP.1])
        .args(["--secret", APP.2, "--port", &port.to_string()])
        .args(["--server-pid", &pid.to_string(), "--json"])
        .arg(json)
        .status()
        .expect("ringcast-load runs");
    assert!(status.success(), "the fan-out run failed: {status}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    let at = |p: &str| report["latency_us"][p].as_u64().unwrap_or(0);
    (at("p50"), at("p99"))
}

/// Publishes `order.N` at [`ORDER_RATE`] until `stop`; returns how many.
fn publish_orders(port: u16, stop: &AtomicBool) -> u64 {
    let every = Duration::from_secs(1) / ORDER_RATE as u32;
    let started = Instant::now();
    let mut n = 0u64;
    while !stop.load(Ordering::Acquire) {
        let body = format!(r#"{{"name":"order.{n}","channels":["orders"],"data":"{{}}"}}"#);
        let (status, answer) = signed(port, "POST", &format!("/apps/{}/events", APP.0), &body);
        assert_eq!(status, 200, "{answer}");
        n += 1;
        // On schedule, not after each answer, so a slow answer does not lower the rate.
        let next = started + every * u32::try_from(n).unwrap_or(u32::MAX);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    n
}

/// Where cargo builds: `CARGO_TARGET_DIR`, else the repository's `target`.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    )
}
