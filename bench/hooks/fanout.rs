//! The shards' fan-out p99 with and without webhooks flowing, in one run on one server. Run
//! with `scripts/bench webhooks` (it builds `ringcast-load` first), or
//! `cargo bench --bench webhooks_fanout` once `target/release/ringcast-load` is built.
//!
//! The same shape as the scheduler bench: the release server with two shards, the client
//! (`ringcast-load fanout`, 1,000 subscribers, 10 events/s) in its own process, and
//! [`ENDPOINTS`] endpoints for `order.*` on local receivers. One fan-out run spans `ROUNDS`
//! (default 3) rounds of two phases of `FANOUT_SECS` (default 30 s) each: nothing else
//! published, then a publisher sending `order.N` events at [`ORDER_RATE`] per second, so that
//! deliveries flow the whole phase.
//!
//! Why one run, cut into slices: a fan-out run per phase (fresh connections, a fresh client
//! process) moved the p99 by 20-50% from one phase to the next with nothing changed, more than
//! the effect measured. One run reports its latency per [`SLICE_SECS`] slice with wall-clock
//! bounds (`--slice-secs`); a slice inside a publishing phase is *busy*, one that starts
//! [`DRAIN_MARGIN`] after the last phase ended and before the next began is *quiet*, the rest
//! are left out. The medians of the slices' p99 are compared. The reports land in the
//! directory given as the first argument (default `target/bench`).
//!
//! `WORKERS=1` runs one shard, so that on this 2-core machine the control core has a core of
//! its own (see [`split_cores`]): the isolation a machine with a spare core gives. With the
//! default two shards, the control core shares a core with a shard.

#[path = "common.rs"]
mod common;
#[path = "../../tests/support/hook_receiver.rs"]
#[allow(dead_code)]
mod hook_receiver;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;

const ENDPOINTS: usize = 250;
const PORTS: usize = 4;
/// `order.*` events per second while publishing: each makes [`ENDPOINTS`] deliveries.
const ORDER_RATE: u64 = 20;
/// Seconds of each phase unless `FANOUT_SECS` says otherwise.
const FANOUT_SECS: u64 = 30;
/// The width of a latency slice: a 10 events/s fan-out to 1,000 gives 50,000 deliveries each.
const SLICE_SECS: u64 = 5;
/// Time after a publishing phase before a slice counts as quiet: the last deliveries drain.
const DRAIN_MARGIN: Duration = Duration::from_secs(2);
/// Time for the fan-out run to connect, settle and warm up before the first phase.
const LEAD_IN: Duration = Duration::from_secs(3);

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
    let split = split_cores();
    let receivers = receivers(PORTS);
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start_server(port, data.path(), workers());
    // The endpoints exist in every phase: a quiet phase publishes nothing they match.
    register(port, &receivers, ENDPOINTS, "order.*");
    let (rounds, phase) = (rounds(), Duration::from_secs(fanout_secs()));
    let json = out.join("webhooks-fanout.json");
    let total = LEAD_IN + phase * 2 * rounds as u32;
    let mut fanout = start_fanout(&load, port, server.id(), total, &json, split);
    std::thread::sleep(LEAD_IN);
    let mut busy = Vec::new();
    for round in 1..=rounds {
        std::thread::sleep(phase);
        let (from, before) = (unix_ms(), received(&receivers));
        let published = publish_orders(port, phase);
        busy.push((from, unix_ms()));
        let delivered = received(&receivers) - before;
        println!(
            "round {round}: {published} order events published, {delivered} deliveries received \
             in {:.0} s ({:.0} deliveries/s to {ENDPOINTS} endpoints)",
            phase.as_secs_f64(),
            delivered as f64 / phase.as_secs_f64()
        );
    }
    let status = fanout.wait().expect("ringcast-load ran");
    assert!(status.success(), "the fan-out run failed: {status}");
    let _ = server.kill();
    let _ = server.wait();
    compare(&json, &busy);
    println!("load average at end: {}", load_average());
}

/// Classifies the run's slices by the publishing phases and prints the comparison.
fn compare(json: &Path, busy: &[(u64, u64)]) {
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    let margin = DRAIN_MARGIN.as_millis() as u64;
    let (mut quiet_p99, mut busy_p99) = (Vec::new(), Vec::new());
    for s in report["slices"].as_array().expect("the run reports slices") {
        let (from, to) = (
            s["from_unix_ms"].as_u64().unwrap(),
            s["to_unix_ms"].as_u64().unwrap(),
        );
        let (p50, p99) = (
            s["latency_us"]["p50"].as_u64().unwrap_or(0),
            s["latency_us"]["p99"].as_u64().unwrap_or(0),
        );
        let inside = busy.iter().any(|&(b, e)| from >= b && to <= e);
        let touched = busy.iter().any(|&(b, e)| from < e + margin && to > b);
        let kind = if inside {
            busy_p99.push(p99);
            "busy"
        } else if !touched {
            quiet_p99.push(p99);
            "quiet"
        } else {
            "left out"
        };
        println!("  slice {from}..{to}: p50/p99 µs {p50}/{p99} ({kind})");
    }
    assert!(
        !quiet_p99.is_empty() && !busy_p99.is_empty(),
        "the run has no whole quiet or busy slice: check FANOUT_SECS (at least {} s)",
        2 * SLICE_SECS + DRAIN_MARGIN.as_secs()
    );
    let (q, b) = (median(&mut quiet_p99), median(&mut busy_p99));
    let change = (b as f64 / q.max(1) as f64 - 1.0) * 100.0;
    println!(
        "fan-out p99 µs, median of {} quiet and {} busy slices: without webhooks {q}, with \
         webhooks flowing {b} (p99 {change:+.0}%)",
        quiet_p99.len(),
        busy_p99.len()
    );
}

fn median(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

/// With one shard on a 2-core machine, gives the two sides a core each, as a machine with a
/// core to spare for the control core would: this process (the receivers and the publisher,
/// and every thread it starts from now on) goes to core 1, where the control core pins
/// itself, and the fan-out client to core 0 with the shard. True if it did.
fn split_cores() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if workers() != 1 || cores != 2 {
        return false;
    }
    let pid = std::process::id().to_string();
    let pinned = Command::new("taskset")
        .args(["-pc", "1", &pid])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    println!(
        "one shard: {}",
        if pinned {
            "the shard and the fan-out client on core 0, the control core and the receivers on core 1"
        } else {
            "taskset failed; nothing pinned"
        }
    );
    pinned
}

/// Shards: `WORKERS`, default 2 (one per core of this machine, the control core sharing one).
/// With 1, the shard and the control core each have a core of their own (both pinned).
fn workers() -> usize {
    positive_env("WORKERS", 2)
}

/// Quiet-then-busy rounds: `ROUNDS`, default 3.
fn rounds() -> usize {
    positive_env("ROUNDS", 3)
}

/// [`FANOUT_SECS`], or `FANOUT_SECS` from the environment.
fn fanout_secs() -> u64 {
    positive_env("FANOUT_SECS", FANOUT_SECS as usize) as u64
}

/// The positive number in the environment variable `name`, else `default`.
fn positive_env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&v| v > 0)
        .unwrap_or(default)
}

/// The `ringcast-load fanout` run over the whole bench, reporting slices; on core 0 if
/// `split` (see [`split_cores`]).
fn start_fanout(
    load: &Path,
    port: u16,
    pid: u32,
    total: Duration,
    json: &Path,
    split: bool,
) -> std::process::Child {
    let mut command = if split {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(load);
        c
    } else {
        Command::new(load)
    };
    command
        .args([
            "fanout",
            "--connections",
            "1000",
            "--rate",
            "10",
            "--duration",
        ])
        .arg(total.as_secs().to_string())
        .args(["--slice-secs", &SLICE_SECS.to_string()])
        .args(["--app-id", APP.0, "--key", APP.1, "--secret", APP.2])
        .args([
            "--port",
            &port.to_string(),
            "--server-pid",
            &pid.to_string(),
        ])
        .arg("--json")
        .arg(json)
        .stdout(Stdio::null())
        .spawn()
        .expect("ringcast-load runs")
}

/// Publishes `order.N` at [`ORDER_RATE`] for `phase`; returns how many.
fn publish_orders(port: u16, phase: Duration) -> u64 {
    let every = Duration::from_secs(1) / ORDER_RATE as u32;
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < phase {
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

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Where cargo builds: `CARGO_TARGET_DIR`, else the repository's `target`.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    )
}
