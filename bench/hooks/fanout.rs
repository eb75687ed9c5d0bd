//! The shards' fan-out p99 with and without webhooks flowing, in one run on one server. Run
//! with `scripts/bench webhooks` (it builds `ringcast-load` first), or
//! `cargo bench --bench webhooks_fanout` once `target/release/ringcast-load` is built.
//!
//! The same shape as the scheduler bench: the release server with two shards, the client
//! (`ringcast-load fanout`, 1,000 subscribers, 10 events/s) in its own process, and
//! [`ENDPOINTS`] endpoints for `order.*` on local receivers. Then `ROUNDS` (default 3) rounds
//! of two phases of `FANOUT_SECS` (default 30 s) each: the fan-out with nothing else
//! published, then the same fan-out while a publisher sends `order.N` events at
//! [`ORDER_RATE`] per second, so that deliveries flow the whole time it is measured (the next
//! round waits for them to drain). The phases alternate on one server because the p99 of a
//! phase moves by 20% from one phase to the next with nothing changed; the median p99 of each
//! kind is compared. Every phase's p50/p99, the deliveries made meanwhile, and the load of the
//! machine are printed; the reports land in the directory given as the first argument
//! (default `target/bench`).

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
use hook_receiver::Receiver;

const ENDPOINTS: usize = 250;
const PORTS: usize = 4;
/// `order.*` events per second while the fan-out is measured: each makes [`ENDPOINTS`]
/// deliveries.
const ORDER_RATE: u64 = 20;
/// Seconds of each fan-out phase unless `FANOUT_SECS` says otherwise: 30 s gives 300 events.
const FANOUT_SECS: &str = "30";

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
    // The endpoints exist in every phase: a quiet phase publishes nothing they match.
    register(port, &receivers, ENDPOINTS, "order.*");
    let (mut quiet, mut busy) = (Vec::new(), Vec::new());
    for round in 1..=rounds() {
        let json = |phase: &str| out.join(format!("webhooks-fanout-{phase}-{round}.json"));
        let q = fanout(&load, port, server.id(), &json("quiet"));
        let b = busy_phase(&load, port, server.id(), &receivers, &json("busy"));
        println!(
            "round {round}: fan-out p50/p99 µs without webhooks {}/{}, with webhooks flowing {}/{}",
            q.0, q.1, b.0, b.1
        );
        quiet.push(q.1);
        busy.push(b.1);
    }
    let (q, b) = (median(&mut quiet), median(&mut busy));
    let change = (b as f64 / q.max(1) as f64 - 1.0) * 100.0;
    println!(
        "fan-out p99 µs, median of the rounds: without webhooks {q}, with webhooks flowing {b} \
         (p99 {change:+.0}%)"
    );
    println!("load average at end: {}", load_average());
    let _ = server.kill();
    let _ = server.wait();
}

/// One fan-out run while `order.*` events are published at [`ORDER_RATE`]; waits for their
/// deliveries to drain before it returns, so the next quiet phase is quiet.
fn busy_phase(load: &Path, port: u16, pid: u32, receivers: &[Receiver], json: &Path) -> (u64, u64) {
    let before = received(receivers);
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = {
        let stop = stop.clone();
        std::thread::spawn(move || publish_orders(port, &stop))
    };
    let started = Instant::now();
    let latency = fanout(load, port, pid, json);
    stop.store(true, Ordering::Release);
    let published = publisher.join().unwrap();
    let secs = started.elapsed().as_secs_f64();
    let delivered = received(receivers) - before;
    println!(
        "  webhooks meanwhile: {published} order events published, {delivered} deliveries \
         received in {secs:.1} s ({:.0} deliveries/s to {ENDPOINTS} endpoints)",
        delivered as f64 / secs
    );
    let want = usize::try_from(published).unwrap_or(usize::MAX) * ENDPOINTS;
    let drained_by = Instant::now() + Duration::from_secs(30);
    while received(receivers) - before < want && Instant::now() < drained_by {
        std::thread::sleep(Duration::from_millis(100));
    }
    latency
}

fn median(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

/// Quiet-then-busy rounds: `ROUNDS`, default 3. Alternating phases on one server, with the
/// median of each kind compared, keeps a drift of the machine from deciding the result.
fn rounds() -> usize {
    std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|&r| r > 0)
        .unwrap_or(3)
}

/// One `ringcast-load fanout` run; its (p50, p99) latency in µs.
fn fanout(load: &Path, port: u16, pid: u32, json: &Path) -> (u64, u64) {
    let status = Command::new(load)
        .args(["fanout", "--connections", "1000", "--rate", "10"])
        .args([
            "--duration",
            &fanout_secs(),
            "--app-id",
            APP.0,
            "--key",
            APP.1,
        ])
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

/// [`FANOUT_SECS`], or `FANOUT_SECS` from the environment.
fn fanout_secs() -> String {
    std::env::var("FANOUT_SECS").unwrap_or_else(|_| FANOUT_SECS.to_owned())
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
