//! The run engine shared by every mode: connect, publish, drain, stop, account.
//!
//! Owns the phases and their timing: connections opened with bounded concurrency (the connect
//! time is until the last one is subscribed), process samples at start / connected / end, the
//! publishers on their schedule, a drain that ends early once every expected delivery arrived,
//! then one stop signal and the collection of every connection's log. Modes only answer index
//! questions (`modes/`); the numbers are made in `stats.rs`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch, Semaphore};

use crate::args::Args;
use crate::client::{self, ConnOutcome, Shared};
use crate::modes::{self, Scenario};
use crate::procstat::{self, Sample};
use crate::publisher::{self, PubCtx};
use crate::stats::{self, Percentiles, ProcUsage, Report};

/// Time the load is left idle after connecting, before sampling memory and publishing.
const SETTLE: Duration = Duration::from_millis(500);
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);
const MAX_ERRORS: usize = 5;

fn sample_or_default(pid: Option<u32>) -> Sample {
    procstat::sample(pid).unwrap_or_default()
}

pub async fn run(args: Args) -> Result<Report, String> {
    let scenario: Arc<dyn Scenario> = modes::scenario(&args).into();
    let addr = tokio::net::lookup_host((args.host.as_str(), args.port))
        .await
        .map_err(|e| format!("resolve {}: {e}", args.host))?
        .next()
        .ok_or_else(|| format!("{} resolves to no address", args.host))?;
    let names: Arc<Vec<Arc<str>>> = Arc::new(
        (0..scenario.channels())
            .map(|i| Arc::from(format!("{}-{i}", args.channel_prefix)))
            .collect(),
    );
    let (stop, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        t0: Instant::now(),
        addr,
        host: format!("{}:{}", args.host, args.port),
        path: format!(
            "/app/{}?protocol=7&client=ringcast-load&version=1",
            args.key
        ),
        stop,
        received: Default::default(),
        connect_gate: Semaphore::new(args.connect_concurrency),
        setup_timeout: SETUP_TIMEOUT,
    });
    let server_start = args.server_pid.map(|p| sample_or_default(Some(p)));
    let gen_start = sample_or_default(None);

    // Connect.
    let n = args.connections;
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let connect_start = Instant::now();
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let ch = scenario.channel_of_connection(i);
        handles.push(tokio::spawn(client::run(
            shared.clone(),
            i,
            ch,
            names[ch].clone(),
            ready_tx.clone(),
        )));
    }
    drop(ready_tx);
    let mut subs = vec![0u64; scenario.channels()];
    let (mut up, mut failures, mut errors) = (0usize, 0usize, Vec::new());
    while let Some(r) = ready_rx.recv().await {
        match r {
            Ok(i) => {
                up += 1;
                subs[scenario.channel_of_connection(i)] += 1;
            }
            Err((i, e)) => {
                failures += 1;
                if errors.len() < MAX_ERRORS {
                    errors.push(format!("connection {i}: {e}"));
                }
            }
        }
    }
    let connect_time = connect_start.elapsed();
    eprintln!(
        "ringcast-load: {up}/{n} connections subscribed in {} ms",
        connect_time.as_millis()
    );
    if up == 0 {
        return Err(format!("no connection came up: {}", errors.join("; ")));
    }
    tokio::time::sleep(SETTLE).await;
    let server_connected = args.server_pid.map(|p| sample_or_default(Some(p)));
    let gen_connected = sample_or_default(None);

    // Publish.
    let start = Instant::now() + Duration::from_millis(10);
    let warmup_end_ns = (start + args.warmup() - shared.t0).as_nanos() as u64;
    let end = start + args.publish_time();
    let publishers = args.publisher_count();
    let pubs: Vec<_> = (0..publishers)
        .map(|p| {
            let ctx = PubCtx {
                shared: shared.clone(),
                app_id: args.app_id.clone(),
                key: args.key.clone(),
                secret: args.secret.clone(),
                scenario: scenario.clone(),
                channel_names: names.clone(),
            };
            tokio::spawn(publisher::run(ctx, p, publishers, start, end))
        })
        .collect();
    let mut sent = Vec::new();
    let mut rtt = stats::new_histogram();
    for p in pubs {
        let out = p.await.map_err(|e| format!("publisher panicked: {e}"))?;
        sent.extend(out.sent);
        let _ = rtt.add(&out.rtt_us);
        if let Some(e) = out.first_error {
            errors.push(format!("publisher: {e} ({} failed)", out.errors));
        }
    }
    let publish_end_ns = shared.now_ns();
    sent.sort_unstable_by_key(|e| e.seq);

    // Drain: until every expected delivery arrived or the grace ran out.
    let expected: u64 = sent.iter().filter(|e| e.ok).map(|e| subs[e.channel]).sum();
    let drain_end = Instant::now() + args.drain();
    while shared.received.load(Ordering::Relaxed) < expected && Instant::now() < drain_end {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let server_end = args.server_pid.map(|p| sample_or_default(Some(p)));
    let gen_end = sample_or_default(None);

    // Stop and collect.
    let _ = shared.stop.send(true);
    let mut outcomes: Vec<ConnOutcome> = Vec::with_capacity(n);
    for h in handles {
        outcomes.push(
            h.await
                .map_err(|e| format!("connection task panicked: {e}"))?,
        );
    }
    let dropped: Vec<&ConnOutcome> = outcomes.iter().filter(|o| o.dropped.is_some()).collect();
    if let Some(o) = dropped.first() {
        errors.push(format!(
            "{} connections dropped, e.g. {}: {}",
            dropped.len(),
            o.conn,
            o.dropped.as_deref().unwrap_or_default()
        ));
    }
    let connections_dropped = dropped.len();
    let a = stats::analyze(&sent, &mut outcomes, scenario.channels(), warmup_end_ns);
    let window = Duration::from_nanos(publish_end_ns.saturating_sub(warmup_end_ns));
    Ok(Report {
        mode: format!("{:?}", scenario.kind()).to_lowercase(),
        connections: up,
        connect_failures: failures,
        channels: scenario.channels(),
        connect_time_ms: connect_time.as_millis() as u64,
        events_sent: a.events_sent,
        publish_errors: a.publish_errors,
        events_measured: a.events_measured,
        events_per_sec: stats::per_sec(a.events_measured, window),
        deliveries_expected: a.deliveries_expected,
        deliveries_received: a.deliveries_received,
        lost: a.lost,
        duplicated: a.duplicated,
        unexpected: a.unexpected,
        connections_dropped,
        latency_us: Percentiles::of(&a.latency),
        last_subscriber_us: scenario
            .reports_last_subscriber()
            .then(|| Percentiles::of(&a.last_subscriber)),
        deliveries_per_sec: stats::per_sec(a.measured_received, window),
        publish_rtt_us: Percentiles::of(&rtt),
        server: server_start.map(|s| {
            let c = server_connected.unwrap_or_default();
            ProcUsage::from_samples(s, c, server_end.unwrap_or_default(), up)
        }),
        generator: ProcUsage::from_samples(gen_start, gen_connected, gen_end, up),
        errors,
    })
}
