//! `soak`: mixed traffic over many connections for a long time, failing on any lost or
//! duplicated delivery among the expected ones.
//!
//! Every connection joins the big channel `soak-all` (published at `--big-rate`) and its group's
//! small channel `soak-g-G` (`--group-size` members; `--rate` events/s round-robin over the
//! groups). Stable connections are paired on `private-soak-P` and exchange `client-ping` /
//! `client-pong` at `--client-rate` per pair. A `--churn-fraction` of connections keeps
//! unsubscribing and resubscribing its small channel, a `--reconnect-fraction` keeps closing its
//! socket and reconnecting, about every `--churn-interval` seconds. What counts as expected is
//! `account.rs`; the connection task is `conn.rs`; the publishers `publish.rs`. Memory is bounded:
//! latencies go into per-thread histograms, receipts into range sets.

mod account;
mod conn;
mod publish;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::args::Args;
use crate::latency::Recorder;
use crate::procstat::{self, Sample};
use crate::run::shared_for;
use crate::stats::{per_sec, Percentiles, ProcUsage, Report};
use account::{PubRec, Tally};
use publish::{PubPlan, PubTarget};

/// Stamp kinds (`k` in event data) and latency histogram kinds.
pub const BIG: u8 = 0;
pub const SMALL: u8 = 1;
pub const PING: u8 = 2;
pub const PONG_K: u8 = 3;
/// Histogram kinds: BIG and SMALL as above, then:
pub const CLIENT: u8 = 2;
pub const RTT: u8 = 3;
pub const RECONNECT: usize = 4;
pub const RESUBSCRIBE: usize = 5;
const KINDS: usize = 6;

/// What a connection does besides receiving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Stable,
    Churner,
    Reconnector,
}

/// Who is where: pure arithmetic over connection indices.
pub struct Plan {
    pub big: String,
    group_size: usize,
    roles: Vec<Role>,
    /// Pair index and whether this connection pings, for paired stable connections.
    pairs: Vec<Option<(u32, bool)>>,
    pub ping_every: Duration,
    pub churn_every: Duration,
    pub churn_gap: Duration,
}

impl Plan {
    pub fn new(args: &Args) -> Plan {
        let n = args.connections;
        // A multiplicative hash spreads the roles over the groups.
        let roles: Vec<Role> = (0..n)
            .map(|i| {
                let u = ((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64
                    / (1u64 << 53) as f64;
                if u < args.churn_fraction {
                    Role::Churner
                } else if u < args.churn_fraction + args.reconnect_fraction {
                    Role::Reconnector
                } else {
                    Role::Stable
                }
            })
            .collect();
        let mut pairs = vec![None; n];
        let stable: Vec<usize> = (0..n).filter(|&i| roles[i] == Role::Stable).collect();
        for (p, two) in stable.chunks_exact(2).enumerate() {
            pairs[two[0]] = Some((p as u32, true));
            pairs[two[1]] = Some((p as u32, false));
        }
        Plan {
            big: "soak-all".into(),
            group_size: args.group_size,
            roles,
            pairs,
            ping_every: Duration::from_secs_f64(1.0 / args.client_rate),
            churn_every: Duration::from_secs_f64(args.churn_interval),
            churn_gap: Duration::from_millis(500),
        }
    }
    pub fn role(&self, idx: usize) -> Role {
        self.roles[idx]
    }
    pub fn group(&self, idx: usize) -> usize {
        idx / self.group_size
    }
    pub fn groups(&self) -> usize {
        self.roles.len().div_ceil(self.group_size)
    }
    pub fn small_name(&self, idx: usize) -> String {
        format!("soak-g-{}", self.group(idx))
    }
    pub fn pair_channel(&self, idx: usize) -> Option<String> {
        self.pairs[idx].map(|(p, _)| format!("private-soak-{p}"))
    }
    pub fn is_pinger(&self, idx: usize) -> bool {
        matches!(self.pairs[idx], Some((_, true)))
    }
    /// The other member of `idx`'s pair.
    fn partner(&self, idx: usize) -> Option<usize> {
        let (p, pinger) = self.pairs[idx]?;
        let step = if pinger { 1 } else { -1 };
        let mut j = idx as isize + step;
        while j >= 0 && (j as usize) < self.pairs.len() {
            if self.pairs[j as usize].map(|x| x.0) == Some(p) {
                return Some(j as usize);
            }
            j += step;
        }
        None
    }
}

#[derive(Default, Serialize)]
struct KindReport {
    #[serde(flatten)]
    tally: Tally,
    latency_us: Percentiles,
}

#[derive(Default, Serialize)]
struct SoakDetail {
    big_channel: KindReport,
    small_channels: KindReport,
    client_events: KindReport,
    /// Client-event round trips (ping sent to pong received).
    client_rtt_us: Percentiles,
    /// Close to every subscription confirmed again.
    reconnect_us: Percentiles,
    /// Resubscribe sent to confirmed (churners).
    resubscribe_us: Percentiles,
    roles: [usize; 3],
    pairs: usize,
    groups: usize,
    reconnects: u64,
    churns: u64,
    foreign_deliveries: u64,
    server_rss_kb_peak: u64,
    server_rss_per_connection_bytes_end: u64,
}

pub async fn run(args: Args) -> Result<Report, String> {
    let shared = shared_for(&args, u64::MAX).await?;
    let plan = Plan::new(&args);
    let n = args.connections;
    let groups = plan.groups();
    let (go_tx, go_rx) = watch::channel(None);
    let ctx = Arc::new(conn::Ctx {
        shared: shared.clone(),
        plan,
        rec: Recorder::new(KINDS),
        key: args.key.clone(),
        secret: args.secret.clone(),
        go: go_rx,
    });
    let server = |_: ()| args.server_pid.map(|p| procstat::sample(Some(p)));
    let server_start = server(()).map(|s| s.unwrap_or_default());
    let gen_start = procstat::sample(None).unwrap_or_default();
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let t_connect = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|i| tokio::spawn(conn::run(ctx.clone(), i, ready_tx.clone())))
        .collect();
    drop(ready_tx);
    let (mut up, mut failed, mut errors) = (0usize, 0usize, Vec::new());
    while let Some(r) = ready_rx.recv().await {
        match r {
            Ok(()) => up += 1,
            Err(e) => {
                failed += 1;
                if errors.len() < 5 {
                    errors.push(format!("connect: {e}"));
                }
            }
        }
    }
    let connect_time = t_connect.elapsed();
    eprintln!(
        "ringcast-load: {up}/{n} soak connections up in {} ms",
        connect_time.as_millis()
    );
    if up == 0 {
        return Err(format!("no connection came up: {}", errors.join("; ")));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let server_connected = server(()).map(|s| s.unwrap_or_default());
    let gen_connected = procstat::sample(None).unwrap_or_default();

    // Traffic.
    let start = Instant::now() + Duration::from_millis(10);
    let end = start + args.publish_time();
    let target = Arc::new(PubTarget {
        shared: shared.clone(),
        app_id: args.app_id.clone(),
        key: args.key.clone(),
        secret: args.secret.clone(),
    });
    let p = ((args.rate / 100.0).ceil() as usize).clamp(1, 8);
    let mut plans = vec![PubPlan {
        kind: BIG,
        channels: vec![(0, Arc::from(ctx.plan.big.as_str()))],
        rate: args.big_rate,
    }];
    for k in 0..p {
        plans.push(PubPlan {
            kind: SMALL,
            channels: (k..groups)
                .step_by(p)
                .map(|g| (g, Arc::from(format!("soak-g-{g}"))))
                .collect(),
            rate: args.rate / p as f64,
        });
    }
    let pubs: Vec<_> = plans
        .into_iter()
        .map(|pl| tokio::spawn(publish::run(target.clone(), pl, start, end)))
        .collect();
    let _ = go_tx.send(Some((start, end)));
    let mut peak = server_connected.map_or(0, |s| s.rss_kb);
    let mut last_print = Instant::now();
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(1).min(end - Instant::now().min(end))).await;
        if let Some(pid) = args.server_pid {
            match procstat::sample(Some(pid)) {
                Some(s) => peak = peak.max(s.rss_kb),
                None => {
                    errors.push(format!("server process {pid} is gone"));
                    break;
                }
            }
        }
        if last_print.elapsed() >= Duration::from_secs(10) {
            last_print = Instant::now();
            eprintln!(
                "soak: {:.0} s, {} deliveries, server RSS peak {} MB",
                start.elapsed().as_secs_f64(),
                shared.received.load(Ordering::Relaxed),
                peak / 1024
            );
        }
    }
    let mut big_log: Vec<PubRec> = Vec::new();
    let mut small_logs: Vec<Vec<PubRec>> = vec![Vec::new(); groups];
    let mut rtt = crate::stats::new_histogram();
    let mut publish_errors = 0;
    for (k, h) in pubs.into_iter().enumerate() {
        let o = h.await.map_err(|e| format!("publisher panicked: {e}"))?;
        publish_errors += o.errors;
        let _ = rtt.add(&o.rtt_us);
        if let Some(e) = o.first_error {
            errors.push(format!("publisher: {e} ({} failed)", o.errors));
        }
        for (c, log) in o.logs {
            if k == 0 {
                big_log = log;
            } else {
                small_logs[c] = log;
            }
        }
    }
    let publish_end = Instant::now();
    // Drain: until nothing arrived for 300 ms, at most --drain.
    crate::client::drain_quiet(
        &shared,
        publish_end + args.drain(),
        Duration::from_millis(300),
    )
    .await;
    let server_end = server(()).map(|s| s.unwrap_or_default());
    if let (Some(pid), Some(Sample { rss_kb: 0, .. })) = (args.server_pid, server_end) {
        if !errors.iter().any(|e| e.contains("is gone")) {
            errors.push(format!("server process {pid} is gone"));
        }
    }
    let gen_end = procstat::sample(None).unwrap_or_default();
    let _ = shared.stop.send(true);
    let mut outs = Vec::with_capacity(n);
    for h in handles {
        outs.push(
            h.await
                .map_err(|e| format!("connection task panicked: {e}"))?,
        );
    }
    let plan = &ctx.plan;
    let (mut big, mut small, mut client) = (Tally::default(), Tally::default(), Tally::default());
    let mut d = SoakDetail {
        roles: [0; 3],
        groups,
        ..SoakDetail::default()
    };
    let mut dropped = 0;
    let mut lost_detail = Vec::new();
    for o in &outs {
        d.roles[plan.role(o.idx) as usize] += 1;
        d.reconnects += u64::from(o.reconnects);
        d.churns += u64::from(o.churns);
        d.foreign_deliveries += u64::from(o.foreign);
        if let Some(e) = o.dropped.as_ref().or(o.first_error.as_ref()) {
            if errors.len() < 10 {
                errors.push(format!("connection {}: {e}", o.idx));
            }
        }
        dropped += usize::from(o.dropped.is_some());
        if o.setup_error.is_some() {
            continue;
        }
        let g = plan.group(o.idx);
        for (name, log, slot, tally) in [
            (plan.big.clone(), &big_log, &o.big, &mut big),
            (format!("soak-g-{g}"), &small_logs[g], &o.small, &mut small),
        ] {
            for (seq, w) in account::account(log, slot, tally) {
                if lost_detail.len() < 10 {
                    let e = log[seq as usize];
                    lost_detail.push(format!(
                        "lost: connection {} ({:?}) {name} seq {seq} published {}..{} ns, \
                         window subscribe {} confirmed {} end {}, {} windows; received up to {:?}",
                        o.idx,
                        plan.role(o.idx),
                        e.start,
                        e.ack,
                        w.sub_sent,
                        w.confirmed,
                        w.end,
                        slot.windows.len(),
                        slot.got.count_in(0, u32::MAX),
                    ));
                }
            }
        }
        if let Some(p) = plan.partner(o.idx) {
            d.pairs += usize::from(plan.is_pinger(o.idx));
            let peer = &outs[p];
            account::account_pair(peer.client_sent, &o.client_got, o.client_dups, &mut client);
        }
    }
    errors.extend(lost_detail);
    let hists = ctx.rec.merged();
    let mut all = crate::stats::new_histogram();
    for h in &hists[..=CLIENT as usize] {
        let _ = all.add(h);
    }
    let mut total = Tally::default();
    for t in [&big, &small, &client] {
        total.add(t);
    }
    let kind = |tally: Tally, k: u8| KindReport {
        tally,
        latency_us: Percentiles::of(&hists[k as usize]),
    };
    d.client_rtt_us = Percentiles::of(&hists[RTT as usize]);
    d.reconnect_us = Percentiles::of(&hists[RECONNECT]);
    d.resubscribe_us = Percentiles::of(&hists[RESUBSCRIBE]);
    d.big_channel = kind(big, BIG);
    d.small_channels = kind(small, SMALL);
    d.client_events = kind(client, CLIENT);
    d.server_rss_kb_peak = peak.max(server_end.map_or(0, |s| s.rss_kb));
    let window = publish_end.duration_since(start);
    let events = (big_log.len() + small_logs.iter().map(Vec::len).sum::<usize>()) as u64;
    let server_usage = server_start.map(|s| {
        ProcUsage::from_samples(
            s,
            server_connected.unwrap_or_default(),
            server_end.unwrap_or_default(),
            up,
        )
    });
    if let (Some(s), Some(e)) = (server_start, server_end) {
        d.server_rss_per_connection_bytes_end =
            e.rss_kb.saturating_sub(s.rss_kb) * 1024 / up as u64;
    }
    let pusher_errors: u64 = outs.iter().map(|o| u64::from(o.pusher_errors)).sum();
    if pusher_errors > 0 {
        errors.push(format!(
            "{pusher_errors} pusher:error or subscription_error messages"
        ));
    }
    let report = Report {
        mode: "soak".into(),
        connections: up,
        connect_failures: failed,
        channels: groups + 1 + d.pairs,
        connect_time_ms: connect_time.as_millis() as u64,
        events_sent: events - publish_errors,
        publish_errors: publish_errors + pusher_errors,
        events_measured: events - publish_errors,
        events_per_sec: per_sec(events, window),
        deliveries_expected: total.expected,
        deliveries_received: total.received,
        lost: total.lost,
        duplicated: total.duplicated,
        unexpected: total.unexpected + d.foreign_deliveries,
        connections_dropped: dropped,
        latency_us: Percentiles::of(&all),
        last_subscriber_us: None,
        deliveries_per_sec: per_sec(total.received + total.maybe_received, window),
        publish_rtt_us: Percentiles::of(&rtt),
        server: server_usage,
        generator: ProcUsage::from_samples(gen_start, gen_connected, gen_end, up),
        errors,
        ..Report::default()
    };
    eprintln!(
        "soak: expected {} received {} lost {} dup {} (maybe {} / maybe-dup {}) | big {}/{} small {}/{} \
         client {}/{} | client RTT p99 {:.2} ms | reconnect p99 {:.1} ms | {} reconnects {} churns \
         | server RSS peak {} MB",
        total.expected,
        total.received,
        total.lost,
        total.duplicated,
        total.maybe_received,
        total.maybe_duplicated,
        d.big_channel.tally.received,
        d.big_channel.tally.expected,
        d.small_channels.tally.received,
        d.small_channels.tally.expected,
        d.client_events.tally.received,
        d.client_events.tally.expected,
        d.client_rtt_us.p99 as f64 / 1e3,
        d.reconnect_us.p99 as f64 / 1e3,
        d.reconnects,
        d.churns,
        d.server_rss_kb_peak / 1024,
    );
    Ok(Report {
        soak: Some(serde_json::to_value(&d).expect("serialises")),
        ..report
    })
}
