//! `pingpong`: client-event round trips between pairs of connections.
//!
//! Connections 2p and 2p+1 join `private-pp-p` (the private-channel auth signed here with the
//! app secret). Once every pair is subscribed, A sends `client-ping {"seq":n,"t":stamp}` at
//! `--client-rate` per pair; B answers each first receipt with `client-pong` carrying the same
//! data; A records the round trip. Loss and duplication are counted per direction with
//! [`RangeSet`]s. The server allows 10 client events per second per connection by default
//! (`REVERB_APP_MAX_CLIENT_EVENTS_PER_SECOND`): the default 5 per pair stays under it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::{mpsc, watch};

use crate::args::Args;
use crate::client::{parse_data, Incoming, Shared, PONG};
use crate::latency::Recorder;
use crate::procstat;
use crate::pusher;
use crate::ranges::RangeSet;
use crate::run::shared_for;
use crate::stats::{Percentiles, ProcUsage, Report};
use crate::ws::{Msg, OP_PONG};

const RTT: usize = 0;
const ONE_WAY: usize = 1;

#[derive(Deserialize)]
struct Ping {
    seq: u32,
    t: u64,
}

/// What one side of a pair hands back.
#[derive(Default)]
struct Side {
    pair: usize,
    pinger: bool,
    setup_error: Option<String>,
    dropped: Option<String>,
    /// Pings (A) or pongs (B) sent.
    sent: u32,
    /// Pongs (A) or pings (B) received, first receipts.
    got: RangeSet,
    dups: u64,
    errors: u32,
    first_error: Option<String>,
}

struct Ctx {
    shared: Arc<Shared>,
    rec: Arc<Recorder>,
    key: String,
    secret: String,
    interval: Duration,
    /// The moment pinging starts (sent once every pair is subscribed) and ends.
    go: watch::Receiver<Option<(Instant, Instant)>>,
}

async fn side(
    ctx: Arc<Ctx>,
    pair: usize,
    pinger: bool,
    ready: mpsc::UnboundedSender<bool>,
) -> Side {
    let mut out = Side {
        pair,
        pinger,
        ..Side::default()
    };
    let sh = &ctx.shared;
    let channel = format!("private-pp-{pair}");
    let mut stop = sh.stop.subscribe();
    let setup = async {
        let _permit = sh.connect_gate.acquire().await;
        let (mut ws, socket_id) = pusher::connect(sh.addr, &sh.host, &sh.path).await?;
        let auth = pusher::private_auth(&ctx.key, &ctx.secret, &socket_id, &channel);
        let frame = pusher::subscribe_frame(&channel, Some(&auth));
        ws.send_text(&frame).await.map_err(|e| e.to_string())?;
        loop {
            let Msg::Text(t) = ws.next().await.map_err(|e| e.to_string())? else {
                continue;
            };
            let m: Incoming = serde_json::from_slice(t).map_err(|e| e.to_string())?;
            match &*m.event {
                "pusher_internal:subscription_succeeded" => return Ok(ws),
                "pusher:subscription_error" | "pusher:error" => {
                    return Err(format!("server said: {}", String::from_utf8_lossy(t)))
                }
                _ => {}
            }
        }
    };
    let mut ws = match tokio::time::timeout(sh.setup_timeout, setup).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            out.setup_error = Some(e);
            let _ = ready.send(false);
            return out;
        }
        Err(_) => {
            out.setup_error = Some("setup timed out".into());
            let _ = ready.send(false);
            return out;
        }
    };
    let _ = ready.send(true);
    drop(ready);
    let mut go = ctx.go.clone();
    let Ok(window) = go.wait_for(|g| g.is_some()).await.map(|g| g.expect("some")) else {
        return out;
    };
    let (start, end) = window;
    // Stagger the pairs over one interval.
    let offset = ctx.interval.mul_f64(fastrand::f64());
    let mut tick = tokio::time::interval_at((start + offset).into(), ctx.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stopped = stop.changed();
    tokio::pin!(stopped);
    loop {
        let result = tokio::select! {
            biased;
            _ = &mut stopped => break,
            _ = tick.tick(), if pinger && Instant::now() < end => {
                let data = format!(r#"{{"seq":{},"t":{}}}"#, out.sent, sh.now_ns());
                out.sent += 1;
                ws.send_text(&pusher::client_event_frame("client-ping", &channel, &data)).await
            }
            m = ws.next() => match m {
                Err(e) => Err(e),
                Ok(Msg::Close) => Err(std::io::Error::other("server closed the connection")),
                Ok(Msg::Ping(p)) => {
                    let p = p.to_vec();
                    ws.send(OP_PONG, &p).await
                }
                Ok(Msg::Other) => Ok(()),
                Ok(Msg::Text(t)) => {
                    let now = sh.now_ns();
                    let Ok(m) = serde_json::from_slice::<Incoming>(t) else { continue };
                    let reply = match &*m.event {
                        "pusher:ping" => Some(PONG.to_owned()),
                        "pusher:error" => {
                            out.errors += 1;
                            out.first_error.get_or_insert_with(|| String::from_utf8_lossy(t).into_owned());
                            None
                        }
                        "client-ping" | "client-pong" => {
                            let raw = m.data.map(|d| d.get()).unwrap_or_default();
                            match parse_data::<Ping>(raw) {
                                Some(p) if out.got.insert(p.seq) => {
                                    sh.received.fetch_add(1, Ordering::Relaxed);
                                    let us = now.saturating_sub(p.t) / 1000;
                                    ctx.rec.record(if pinger { RTT } else { ONE_WAY }, us);
                                    (!pinger).then(|| {
                                        out.sent += 1;
                                        pusher::client_event_frame("client-pong", &channel, raw)
                                    })
                                }
                                Some(_) => {
                                    out.dups += 1;
                                    None
                                }
                                None => None,
                            }
                        }
                        _ => None,
                    };
                    match reply {
                        Some(r) => ws.send_text(&r).await,
                        None => Ok(()),
                    }
                }
            },
        };
        if let Err(e) = result {
            out.dropped = Some(e.to_string());
            let _ = stopped.await;
            break;
        }
    }
    out
}

pub async fn run(args: Args) -> Result<Report, String> {
    let pairs = args.connections / 2;
    let shared = shared_for(&args, u64::MAX).await?;
    let (go_tx, go_rx) = watch::channel(None);
    let ctx = Arc::new(Ctx {
        shared: shared.clone(),
        rec: Recorder::new(2),
        key: args.key.clone(),
        secret: args.secret.clone(),
        interval: Duration::from_secs_f64(1.0 / args.client_rate),
        go: go_rx,
    });
    let server_start = args.server_pid.and_then(|p| procstat::sample(Some(p)));
    let gen_start = procstat::sample(None).unwrap_or_default();
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let t_connect = Instant::now();
    let handles: Vec<_> = (0..pairs * 2)
        .map(|i| tokio::spawn(side(ctx.clone(), i / 2, i % 2 == 0, ready_tx.clone())))
        .collect();
    drop(ready_tx);
    let (mut up, mut failed) = (0usize, 0usize);
    while let Some(ok) = ready_rx.recv().await {
        if ok {
            up += 1
        } else {
            failed += 1
        }
    }
    let connect_time = t_connect.elapsed();
    eprintln!(
        "ringcast-load: {up}/{} connections subscribed in {} ms",
        pairs * 2,
        connect_time.as_millis()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let server_connected = args.server_pid.and_then(|p| procstat::sample(Some(p)));
    let gen_connected = procstat::sample(None).unwrap_or_default();
    let start = Instant::now() + Duration::from_millis(10);
    let end = start + args.publish_time();
    let _ = go_tx.send(Some((start, end)));
    tokio::time::sleep_until(end.into()).await;
    // Drain: until nothing arrived for 200 ms, at most --drain.
    crate::client::drain_quiet(
        &shared,
        Instant::now() + args.drain(),
        Duration::from_millis(200),
    )
    .await;
    let server_end = args.server_pid.and_then(|p| procstat::sample(Some(p)));
    let gen_end = procstat::sample(None).unwrap_or_default();
    let _ = shared.stop.send(true);
    let mut sides = Vec::with_capacity(handles.len());
    for h in handles {
        sides.push(
            h.await
                .map_err(|e| format!("connection task panicked: {e}"))?,
        );
    }
    let mut report = Report {
        mode: "pingpong".into(),
        connections: up,
        connect_failures: failed,
        channels: pairs,
        connect_time_ms: connect_time.as_millis() as u64,
        ..Report::default()
    };
    let mut errors = Vec::new();
    for pair in sides.chunks(2) {
        let [a, b] = pair else { continue };
        debug_assert!(a.pinger && !b.pinger && a.pair == b.pair);
        for (sender, receiver) in [(a, b), (b, a)] {
            report.deliveries_expected += u64::from(sender.sent);
            let got = receiver.got.count_in(0, sender.sent);
            report.deliveries_received += got;
            report.unexpected += receiver.got.len() - got;
            report.duplicated += receiver.dups;
        }
        report.events_sent += u64::from(a.sent);
        report.connections_dropped +=
            usize::from(a.dropped.is_some()) + usize::from(b.dropped.is_some());
        for s in [a, b] {
            let e = s
                .setup_error
                .as_ref()
                .or(s.dropped.as_ref())
                .or(s.first_error.as_ref());
            if let (Some(e), true) = (e, errors.len() < 5) {
                errors.push(format!(
                    "pair {} {}: {e}",
                    s.pair,
                    if s.pinger { "A" } else { "B" }
                ));
            }
            report.publish_errors += u64::from(s.errors);
        }
    }
    report.lost = report.deliveries_expected - report.deliveries_received;
    let hists = ctx.rec.merged();
    let window = Duration::from_secs_f64(args.warmup + args.duration);
    report.events_measured = report.events_sent;
    report.events_per_sec = crate::stats::per_sec(report.events_sent, window);
    report.deliveries_per_sec = crate::stats::per_sec(report.deliveries_received, window);
    report.latency_us = Percentiles::of(&hists[RTT]);
    report.last_subscriber_us = Some(Percentiles::of(&hists[ONE_WAY]));
    report.server = server_start.map(|s| {
        ProcUsage::from_samples(
            s,
            server_connected.unwrap_or_default(),
            server_end.unwrap_or_default(),
            up,
        )
    });
    report.generator = ProcUsage::from_samples(gen_start, gen_connected, gen_end, up);
    if errors.iter().any(|e| e.contains("4301")) {
        errors.push(
            "4301: the server's client-event limit; lower --client-rate or raise \
             REVERB_APP_MAX_CLIENT_EVENTS_PER_SECOND on the server"
                .into(),
        );
    }
    report.errors = errors;
    eprintln!(
        "pingpong: {pairs} pairs at {}/s: RTT p50/p99/p99.9 {:.2}/{:.2}/{:.2} ms; one-way p50/p99 {:.2}/{:.2} ms",
        args.client_rate,
        report.latency_us.p50 as f64 / 1e3,
        report.latency_us.p99 as f64 / 1e3,
        report.latency_us.p999 as f64 / 1e3,
        hists[ONE_WAY].value_at_quantile(0.5) as f64 / 1e3,
        hists[ONE_WAY].value_at_quantile(0.99) as f64 / 1e3,
    );
    Ok(report)
}
