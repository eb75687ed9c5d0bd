//! The run engine shared by every mode: connect, publish, drain, stop, account.
//!
//! Owns the phases and their timing: connections opened with bounded concurrency (the connect
//! time is until the last one is subscribed), process samples at start / connected / end, the
//! publishers on their schedule, a drain that ends early once every expected delivery arrived,
//! then one stop signal and the collection of every connection's log. Modes only answer index
//! questions (`modes/`); the numbers are made in `stats.rs`. The phases are public so that a
//! mode with several publish phases over one set of connections (`ramp`) can drive them.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use tokio::sync::{mpsc, watch, Semaphore};

use crate::args::Args;
use crate::client::{self, ConnOutcome, Shared};
use crate::modes::{self, Scenario};
use crate::procstat::{self, Sample};
use crate::publisher::{self, PubCtx, SentEvent};
use crate::slices::slices;
use crate::stats::{self, Percentiles, ProcUsage, Report};

/// Time the load is left idle after connecting, before sampling memory and publishing.
const SETTLE: Duration = Duration::from_millis(500);
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);
const MAX_ERRORS: usize = 5;

fn sample_or_default(pid: Option<u32>) -> Sample {
    procstat::sample(pid).unwrap_or_default()
}

/// The connected load: everything the publish and collect phases need.
pub struct Engine {
    pub shared: Arc<Shared>,
    pub scenario: Arc<dyn Scenario>,
    pub names: Arc<Vec<Arc<str>>>,
    handles: Vec<tokio::task::JoinHandle<ConnOutcome>>,
    /// Subscribed connections per channel.
    pub subs: Vec<u64>,
    pub up: usize,
    pub failures: usize,
    pub errors: Vec<String>,
    pub connect_time: Duration,
    samples: [Option<Sample>; 2],
    gen_samples: [Sample; 2],
}

/// What one publish phase produced.
pub struct Published {
    pub sent: Vec<SentEvent>,
    pub rtt: Histogram<u64>,
    pub errors: Vec<String>,
}

/// Shared state for a run against `args`' server.
pub async fn shared_for(args: &Args, slow_us: u64) -> Result<Arc<Shared>, String> {
    let addr = tokio::net::lookup_host((args.host.as_str(), args.port))
        .await
        .map_err(|e| format!("resolve {}: {e}", args.host))?
        .next()
        .ok_or_else(|| format!("{} resolves to no address", args.host))?;
    let mut sub_addrs = Vec::with_capacity(args.sub_ports.len());
    for port in &args.sub_ports {
        sub_addrs.push((
            SocketAddr::new(addr.ip(), *port),
            format!("{}:{port}", args.host),
        ));
    }
    let (stop, _) = watch::channel(false);
    let host = format!("{}:{}", args.host, args.port);
    Ok(Arc::new(Shared {
        records: crate::modes::records::setup(args, addr, &host),
        t0: Instant::now(),
        addr,
        host,
        sub_addrs,
        path: format!(
            "/app/{}?protocol=7&client=ringcast-load&version=1",
            args.key
        ),
        stop,
        received: Default::default(),
        slow: Default::default(),
        slow_us,
        connect_gate: Semaphore::new(args.connect_concurrency),
        setup_timeout: SETUP_TIMEOUT,
    }))
}

/// Opens every connection, waits until each is subscribed (or failed), settles and samples.
pub async fn connect(
    args: &Args,
    scenario: Arc<dyn Scenario>,
    slow_us: u64,
) -> Result<Engine, String> {
    let shared = shared_for(args, slow_us).await?;
    let names: Arc<Vec<Arc<str>>> = Arc::new(
        (0..scenario.channels())
            .map(|i| Arc::from(format!("{}-{i}", args.channel_prefix)))
            .collect(),
    );
    let server_start = args.server_pid.map(|p| sample_or_default(Some(p)));
    let gen_start = sample_or_default(None);
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
    Ok(Engine {
        shared,
        scenario,
        names,
        handles,
        subs,
        up,
        failures,
        errors,
        connect_time,
        samples: [server_start, server_connected],
        gen_samples: [gen_start, gen_connected],
    })
}

impl Engine {
    /// Runs `publishers` publishers of `scenario` from `start` to `end`, numbering events from
    /// `seq_base`.
    pub async fn publish(
        &self,
        args: &Args,
        scenario: Arc<dyn Scenario>,
        publishers: usize,
        (start, end): (Instant, Instant),
        seq_base: u64,
    ) -> Result<Published, String> {
        let pubs: Vec<_> = (0..publishers)
            .map(|p| {
                let ctx = PubCtx {
                    shared: self.shared.clone(),
                    app_id: args.app_id.clone(),
                    key: args.key.clone(),
                    secret: args.secret.clone(),
                    scenario: scenario.clone(),
                    channel_names: self.names.clone(),
                    batch: args.batch,
                    record_payload: args.record_payload,
                };
                tokio::spawn(publisher::run(ctx, p, publishers, start, end, seq_base))
            })
            .collect();
        let mut out = Published {
            sent: Vec::new(),
            rtt: stats::new_histogram(),
            errors: Vec::new(),
        };
        for p in pubs {
            let o = p.await.map_err(|e| format!("publisher panicked: {e}"))?;
            out.sent.extend(o.sent);
            let _ = out.rtt.add(&o.rtt_us);
            if let Some(e) = o.first_error {
                out.errors
                    .push(format!("publisher: {e} ({} failed)", o.errors));
            }
        }
        out.sent.sort_unstable_by_key(|e| e.seq);
        Ok(out)
    }

    /// Deliveries `sent` should produce to the subscribed connections.
    pub fn expected(&self, sent: &[SentEvent]) -> u64 {
        sent.iter()
            .filter(|e| e.ok)
            .map(|e| self.subs[e.channel])
            .sum()
    }

    /// Waits until `expected` deliveries arrived in total, at most `grace`.
    pub async fn drain(&self, expected: u64, grace: Duration) {
        let end = Instant::now() + grace;
        while self.shared.received.load(Ordering::Relaxed) < expected && Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops every connection and builds the report over `sent` (sorted by seq).
    pub async fn finish(
        mut self,
        args: &Args,
        sent: &[SentEvent],
        rtt: &Histogram<u64>,
        (warmup_end_ns, publish_end_ns): (u64, u64),
    ) -> Result<(Report, Vec<ConnOutcome>), String> {
        let server_end = args.server_pid.map(|p| sample_or_default(Some(p)));
        let gen_end = sample_or_default(None);
        let _ = self.shared.stop.send(true);
        let mut outcomes: Vec<ConnOutcome> = Vec::with_capacity(self.handles.len());
        for h in self.handles.drain(..) {
            outcomes.push(
                h.await
                    .map_err(|e| format!("connection task panicked: {e}"))?,
            );
        }
        let mut errors = std::mem::take(&mut self.errors);
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
        let scenario = &self.scenario;
        let a = stats::analyze(sent, &mut outcomes, scenario.channels(), warmup_end_ns);
        let window = Duration::from_nanos(publish_end_ns.saturating_sub(warmup_end_ns));
        let up = self.up;
        let report = Report {
            mode: format!("{:?}", args.mode()).to_lowercase(),
            connections: up,
            connect_failures: self.failures,
            channels: scenario.channels(),
            connect_time_ms: self.connect_time.as_millis() as u64,
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
            publish_rtt_us: Percentiles::of(rtt),
            server: self.samples[0].map(|s| {
                let c = self.samples[1].unwrap_or_default();
                ProcUsage::from_samples(s, c, server_end.unwrap_or_default(), up)
            }),
            generator: ProcUsage::from_samples(
                self.gen_samples[0],
                self.gen_samples[1],
                gen_end,
                up,
            ),
            errors,
            ..Report::default()
        };
        Ok((report, outcomes))
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The `fanout` and `channels` runs: connect, one publish phase, drain, report.
pub async fn run(args: Args) -> Result<Report, String> {
    let scenario: Arc<dyn Scenario> = modes::scenario(&args)
        .ok_or("this mode has its own engine")?
        .into();
    let engine = connect(&args, scenario.clone(), u64::MAX).await?;
    let start = Instant::now() + Duration::from_millis(10);
    let warmup_end_ns = (start + args.warmup() - engine.shared.t0).as_nanos() as u64;
    let end = start + args.publish_time();
    let published = engine
        .publish(&args, scenario, args.publisher_count(), (start, end), 0)
        .await?;
    let publish_end_ns = engine.shared.now_ns();
    engine
        .drain(engine.expected(&published.sent), args.drain())
        .await;
    let t0_unix_ms = unix_ms().saturating_sub(engine.shared.t0.elapsed().as_millis() as u64);
    let (mut report, outcomes) = engine
        .finish(
            &args,
            &published.sent,
            &published.rtt,
            (warmup_end_ns, publish_end_ns),
        )
        .await?;
    if let Some(secs) = args.slice_secs.filter(|s| *s > 0.0) {
        let width = Duration::from_secs_f64(secs);
        report.slices = slices(&published.sent, &outcomes, warmup_end_ns, width, t0_unix_ms);
    }
    report.errors.splice(0..0, published.errors);
    Ok(report)
}
