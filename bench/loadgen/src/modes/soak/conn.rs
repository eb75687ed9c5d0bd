//! One soak connection: the big channel, its small group channel, a private channel shared with
//! its pair partner (stable connections only), and — by role — unsubscribe/resubscribe churn of
//! the small channel or periodic close-and-reconnect.
//!
//! Records every subscription window and every first receipt ([`SlotLog`]), latencies into the
//! per-thread [`Recorder`], and client-event counts; nothing per delivery grows. Never decides
//! what was expected: that is `account.rs`, after the run.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::{mpsc, watch};

use super::account::SlotLog;
use super::{Plan, Role, BIG, CLIENT, PING, PONG_K, RECONNECT, RESUBSCRIBE, RTT, SMALL};
use crate::client::{parse_data, Incoming, Shared, PONG};
use crate::latency::Recorder;
use crate::pusher;
use crate::ranges::RangeSet;
use crate::ws::{Msg, WsConn, OP_PONG};

/// What one connection hands back.
#[derive(Default)]
pub struct ConnOut {
    pub idx: usize,
    pub setup_error: Option<String>,
    pub dropped: Option<String>,
    pub big: SlotLog,
    pub small: SlotLog,
    /// Client events sent to the partner (pings or pongs).
    pub client_sent: u32,
    pub client_got: RangeSet,
    pub client_dups: u64,
    pub pusher_errors: u32,
    pub first_error: Option<String>,
    pub reconnects: u32,
    pub churns: u32,
    /// Events of channels this connection never subscribed to.
    pub foreign: u32,
}

/// Shared by every connection task.
pub struct Ctx {
    pub shared: Arc<Shared>,
    pub plan: Plan,
    pub rec: Arc<Recorder>,
    pub key: String,
    pub secret: String,
    /// Set once every connection is up: (traffic start, traffic end).
    pub go: watch::Receiver<Option<(Instant, Instant)>>,
}

#[derive(Deserialize)]
struct Stamp {
    k: u8,
    #[serde(default)]
    c: u32,
    seq: u32,
    t: u64,
}

/// Where a connection stands with its small channel (churners).
#[derive(PartialEq, Eq)]
enum Churn {
    Subscribed,
    /// Unsubscribed; resubscribe at the next timer.
    Gap,
}

fn jitter(mean: Duration) -> Duration {
    mean.mul_f64(0.5 + fastrand::f64())
}

/// Connects and sends the subscribes; windows open at the moment each subscribe is sent.
async fn open(ctx: &Ctx, idx: usize, out: &mut ConnOut) -> Result<(WsConn, usize), String> {
    let sh = &ctx.shared;
    let plan = &ctx.plan;
    let (mut ws, socket_id) = pusher::connect(sh.addr, &sh.host, &sh.path).await?;
    let mut pending = 0;
    let send = |e: io::Error| e.to_string();
    out.big.subscribing(sh.now_ns());
    ws.send_text(&pusher::subscribe_frame(&plan.big, None))
        .await
        .map_err(send)?;
    out.small.subscribing(sh.now_ns());
    ws.send_text(&pusher::subscribe_frame(&plan.small_name(idx), None))
        .await
        .map_err(send)?;
    pending += 2;
    if let Some(ch) = plan.pair_channel(idx) {
        let auth = pusher::private_auth(&ctx.key, &ctx.secret, &socket_id, &ch);
        ws.send_text(&pusher::subscribe_frame(&ch, Some(&auth)))
            .await
            .map_err(send)?;
        pending += 1;
    }
    Ok((ws, pending))
}

pub async fn run(
    ctx: Arc<Ctx>,
    idx: usize,
    ready: mpsc::UnboundedSender<Result<(), String>>,
) -> ConnOut {
    let mut out = ConnOut {
        idx,
        ..ConnOut::default()
    };
    let sh = ctx.shared.clone();
    let plan = &ctx.plan;
    let role = plan.role(idx);
    let pair = plan.pair_channel(idx);
    let pinger = plan.is_pinger(idx);
    let small = plan.small_name(idx);
    let mut stop = sh.stop.subscribe();
    let mut go = ctx.go.clone();
    let mut ready = Some(ready);
    let first = {
        let _permit = sh.connect_gate.acquire().await;
        tokio::time::timeout(sh.setup_timeout, open(&ctx, idx, &mut out))
            .await
            .unwrap_or_else(|_| Err("setup timed out".into()))
    };
    let (mut ws, mut pending) = match first {
        Ok(x) => x,
        Err(e) => {
            out.setup_error = Some(e.clone());
            if let Some(r) = ready.take() {
                let _ = r.send(Err(e));
            }
            return out;
        }
    };
    let mut window: Option<(Instant, Instant)> = None;
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    let ping = tokio::time::sleep_until(far.into());
    let timer = tokio::time::sleep_until(far.into());
    tokio::pin!(ping, timer);
    let mut churn = Churn::Subscribed;
    // When the current (re)subscription round started, for its latency.
    let mut round_start: Option<(u64, usize)> = None;
    let stopped = stop.changed();
    tokio::pin!(stopped);
    let result: Result<(), String> = loop {
        let active = window.is_some_and(|(_, end)| Instant::now() < end);
        let step: io::Result<()> = tokio::select! {
            biased;
            _ = &mut stopped => break Ok(()),
            r = go.changed(), if window.is_none() => {
                if r.is_err() { break Ok(()); }
                window = *go.borrow();
                if let Some((start, _)) = window {
                    if pinger {
                        ping.as_mut().reset((start + plan.ping_every.mul_f64(fastrand::f64())).into());
                    }
                    if role != Role::Stable {
                        timer.as_mut().reset((start + jitter(plan.churn_every)).into());
                    }
                }
                Ok(())
            }
            _ = &mut ping, if active => {
                ping.as_mut().reset((Instant::now() + plan.ping_every).into());
                let data = format!(r#"{{"k":{PING},"seq":{},"t":{}}}"#, out.client_sent, sh.now_ns());
                out.client_sent += 1;
                let ch = pair.as_deref().unwrap_or_default();
                ws.send_text(&pusher::client_event_frame("client-ping", ch, &data)).await
            }
            _ = &mut timer, if active && pending == 0 => match role {
                Role::Churner if churn == Churn::Subscribed => {
                    out.small.ended(sh.now_ns());
                    out.churns += 1;
                    churn = Churn::Gap;
                    timer.as_mut().reset((Instant::now() + jitter(plan.churn_gap)).into());
                    ws.send_text(&pusher::unsubscribe_frame(&small)).await
                }
                Role::Churner => {
                    churn = Churn::Subscribed;
                    pending = 1;
                    let now = sh.now_ns();
                    round_start = Some((now, RESUBSCRIBE));
                    out.small.subscribing(now);
                    timer.as_mut().reset((Instant::now() + jitter(plan.churn_every)).into());
                    ws.send_text(&pusher::subscribe_frame(&small, None)).await
                }
                Role::Reconnector => {
                    let now = sh.now_ns();
                    out.big.ended(now);
                    out.small.ended(now);
                    out.reconnects += 1;
                    drop(std::mem::replace(&mut ws, match open(&ctx, idx, &mut out).await {
                        Ok((w, p)) => { pending = p; w }
                        Err(e) => break Err(format!("reconnect: {e}")),
                    }));
                    round_start = Some((now, RECONNECT));
                    timer.as_mut().reset((Instant::now() + jitter(plan.churn_every)).into());
                    Ok(())
                }
                Role::Stable => Ok(()),
            },
            m = ws.next() => match m {
                Err(e) => Err(e),
                Ok(Msg::Close) => Err(io::Error::other("server closed the connection")),
                Ok(Msg::Ping(p)) => {
                    let p = p.to_vec();
                    ws.send(OP_PONG, &p).await
                }
                Ok(Msg::Other) => Ok(()),
                Ok(Msg::Text(t)) => {
                    let now = sh.now_ns();
                    let Ok(m) = serde_json::from_slice::<Incoming>(t) else { continue };
                    let mut reply = None;
                    match &*m.event {
                        "pusher:ping" => reply = Some(PONG.to_owned()),
                        "pusher_internal:subscription_succeeded" => {
                            match m.channel.as_deref() {
                                Some(c) if c == plan.big => out.big.confirmed(now),
                                Some(c) if c == small => out.small.confirmed(now),
                                _ => {}
                            }
                            pending = pending.saturating_sub(1);
                            if pending == 0 {
                                if let Some(r) = ready.take() {
                                    let _ = r.send(Ok(()));
                                }
                                if let Some((t0, kind)) = round_start.take() {
                                    ctx.rec.record(kind, now.saturating_sub(t0) / 1000);
                                }
                            }
                        }
                        "pusher:error" | "pusher:subscription_error" => {
                            out.pusher_errors += 1;
                            out.first_error.get_or_insert_with(|| String::from_utf8_lossy(t).into_owned());
                        }
                        _ => {
                            let raw = m.data.map(|d| d.get()).unwrap_or_default();
                            if let Some(s) = parse_data::<Stamp>(raw) {
                                let us = now.saturating_sub(s.t) / 1000;
                                let first = match s.k {
                                    BIG => out.big.receive(s.seq),
                                    SMALL if s.c as usize == plan.group(idx) => out.small.receive(s.seq),
                                    PING | PONG_K => {
                                        let first = out.client_got.insert(s.seq);
                                        if first && s.k == PING {
                                            reply = Some(pusher::client_event_frame(
                                                "client-pong",
                                                pair.as_deref().unwrap_or_default(),
                                                &format!(r#"{{"k":{PONG_K},"seq":{},"t":{}}}"#, s.seq, s.t),
                                            ));
                                            out.client_sent += 1;
                                        }
                                        out.client_dups += u64::from(!first);
                                        first
                                    }
                                    _ => {
                                        // A small channel not ours: never subscribed to it.
                                        out.foreign += 1;
                                        false
                                    }
                                };
                                if first {
                                    sh.received.fetch_add(1, Ordering::Relaxed);
                                    let kind = match s.k { BIG => BIG, SMALL => SMALL, PING => CLIENT, _ => RTT };
                                    ctx.rec.record(usize::from(kind), us);
                                }
                            }
                        }
                    }
                    match reply {
                        Some(r) => ws.send_text(&r).await,
                        None => Ok(()),
                    }
                }
            },
        };
        if let Err(e) = step {
            break Err(e.to_string());
        }
    };
    if let Err(e) = result {
        let now = sh.now_ns();
        out.big.ended(now);
        out.small.ended(now);
        match ready.take() {
            Some(r) => {
                out.setup_error = Some(e.clone());
                let _ = r.send(Err(e));
            }
            None => out.dropped = Some(e),
        }
        let _ = stopped.await;
    }
    out
}
