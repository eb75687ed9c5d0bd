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
use crate::ws::{Msg, WsConn, OP_CLOSE, OP_PONG};

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

/// The mutable state of one connection task besides its socket and timers.
struct State {
    ctx: Arc<Ctx>,
    out: ConnOut,
    small: String,
    pair: Option<String>,
    /// Subscriptions sent and not confirmed yet.
    pending: usize,
    ready: Option<mpsc::UnboundedSender<Result<(), String>>>,
    /// When the current (re)subscription round started, and its latency kind.
    round_start: Option<(u64, usize)>,
}

impl State {
    /// Handles one text message; returns a frame to send back, if any.
    fn on_text(&mut self, t: &[u8]) -> Option<String> {
        let ctx = &*self.ctx;
        let (sh, plan, out) = (&ctx.shared, &ctx.plan, &mut self.out);
        let now = sh.now_ns();
        let m = serde_json::from_slice::<Incoming>(t).ok()?;
        match &*m.event {
            "pusher:ping" => return Some(PONG.to_owned()),
            "pusher_internal:subscription_succeeded" => {
                match m.channel.as_deref() {
                    Some(c) if c == plan.big => out.big.confirmed(now),
                    Some(c) if c == self.small => out.small.confirmed(now),
                    _ => {}
                }
                self.pending = self.pending.saturating_sub(1);
                if self.pending == 0 {
                    if let Some(r) = self.ready.take() {
                        let _ = r.send(Ok(()));
                    }
                    if let Some((t0, kind)) = self.round_start.take() {
                        ctx.rec.record(kind, now.saturating_sub(t0) / 1000);
                    }
                }
            }
            "pusher:error" | "pusher:subscription_error" => {
                out.pusher_errors += 1;
                out.first_error
                    .get_or_insert_with(|| String::from_utf8_lossy(t).into_owned());
            }
            _ => {
                let raw = m.data.map(|d| d.get()).unwrap_or_default();
                let s = parse_data::<Stamp>(raw)?;
                let mut reply = None;
                let first = match s.k {
                    BIG => out.big.receive(s.seq),
                    SMALL if s.c as usize == plan.group(out.idx) => out.small.receive(s.seq),
                    PING | PONG_K => {
                        let first = out.client_got.insert(s.seq);
                        if first && s.k == PING {
                            reply = Some(pusher::client_event_frame(
                                "client-pong",
                                self.pair.as_deref().unwrap_or_default(),
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
                    let kind = match s.k {
                        BIG => BIG,
                        SMALL => SMALL,
                        PING => CLIENT,
                        _ => RTT,
                    };
                    ctx.rec
                        .record(usize::from(kind), now.saturating_sub(s.t) / 1000);
                }
                return reply;
            }
        }
        None
    }
}

/// Closes gracefully: sends a close frame and keeps reading (and recording) until the server's
/// close answer, so nothing the server wrote before it processed the close goes unread.
async fn close(ws: &mut WsConn, st: &mut State) {
    if ws.send(OP_CLOSE, &1000u16.to_be_bytes()).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Ok(Msg::Text(t)) => {
                    // Replies are not sent after a close frame.
                    let _ = st.on_text(t);
                }
                Ok(Msg::Ping(_) | Msg::Other) => {}
                Ok(Msg::Close) | Err(_) => return,
            }
        }
    })
    .await;
}

pub async fn run(
    ctx: Arc<Ctx>,
    idx: usize,
    ready: mpsc::UnboundedSender<Result<(), String>>,
) -> ConnOut {
    let sh = ctx.shared.clone();
    let mut st = State {
        ctx: ctx.clone(),
        out: ConnOut {
            idx,
            ..ConnOut::default()
        },
        small: ctx.plan.small_name(idx),
        pair: ctx.plan.pair_channel(idx),
        pending: 0,
        ready: Some(ready),
        round_start: None,
    };
    let plan = &ctx.plan;
    let role = plan.role(idx);
    let pinger = plan.is_pinger(idx);
    let mut stop = sh.stop.subscribe();
    let mut go = ctx.go.clone();
    let first = {
        let _permit = sh.connect_gate.acquire().await;
        tokio::time::timeout(sh.setup_timeout, open(&ctx, idx, &mut st.out))
            .await
            .unwrap_or_else(|_| Err("setup timed out".into()))
    };
    let mut ws = match first {
        Ok((ws, pending)) => {
            st.pending = pending;
            ws
        }
        Err(e) => {
            st.out.setup_error = Some(e.clone());
            if let Some(r) = st.ready.take() {
                let _ = r.send(Err(e));
            }
            return st.out;
        }
    };
    let mut window: Option<(Instant, Instant)> = None;
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    let ping = tokio::time::sleep_until(far.into());
    let timer = tokio::time::sleep_until(far.into());
    tokio::pin!(ping, timer);
    let mut churn = Churn::Subscribed;
    let stopped = stop.changed();
    tokio::pin!(stopped);
    let result: Result<(), String> = loop {
        let active = window.is_some_and(|(_, end)| Instant::now() < end);
        let step: io::Result<()> = tokio::select! {
            biased;
            _ = &mut stopped => break Ok(()),
            r = go.changed(), if window.is_none() => {
                if r.is_err() {
                    break Ok(());
                }
                window = *go.borrow();
                if let Some((start, _)) = window {
                    if pinger {
                        let first = start + plan.ping_every.mul_f64(fastrand::f64());
                        ping.as_mut().reset(first.into());
                    }
                    if role != Role::Stable {
                        timer.as_mut().reset((start + jitter(plan.churn_every)).into());
                    }
                }
                Ok(())
            }
            _ = &mut ping, if active => {
                ping.as_mut().reset((Instant::now() + plan.ping_every).into());
                let out = &mut st.out;
                let data = format!(r#"{{"k":{PING},"seq":{},"t":{}}}"#, out.client_sent, sh.now_ns());
                out.client_sent += 1;
                let ch = st.pair.as_deref().unwrap_or_default();
                ws.send_text(&pusher::client_event_frame("client-ping", ch, &data)).await
            }
            _ = &mut timer, if active && st.pending == 0 => match role {
                Role::Churner if churn == Churn::Subscribed => {
                    st.out.small.ended(sh.now_ns());
                    st.out.churns += 1;
                    churn = Churn::Gap;
                    timer.as_mut().reset((Instant::now() + jitter(plan.churn_gap)).into());
                    ws.send_text(&pusher::unsubscribe_frame(&st.small)).await
                }
                Role::Churner => {
                    churn = Churn::Subscribed;
                    st.pending = 1;
                    let now = sh.now_ns();
                    st.round_start = Some((now, RESUBSCRIBE));
                    st.out.small.subscribing(now);
                    timer.as_mut().reset((Instant::now() + jitter(plan.churn_every)).into());
                    ws.send_text(&pusher::subscribe_frame(&st.small, None)).await
                }
                Role::Reconnector => {
                    let now = sh.now_ns();
                    st.out.big.ended(now);
                    st.out.small.ended(now);
                    st.out.reconnects += 1;
                    close(&mut ws, &mut st).await;
                    ws = match open(&ctx, idx, &mut st.out).await {
                        Ok((w, p)) => {
                            st.pending = p;
                            w
                        }
                        Err(e) => break Err(format!("reconnect: {e}")),
                    };
                    st.round_start = Some((now, RECONNECT));
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
                Ok(Msg::Text(t)) => match st.on_text(t) {
                    Some(r) => ws.send_text(&r).await,
                    None => Ok(()),
                },
            },
        };
        if let Err(e) = step {
            break Err(e.to_string());
        }
    };
    let mut out = st.out;
    if let Err(e) = result {
        let now = sh.now_ns();
        out.big.ended(now);
        out.small.ended(now);
        match st.ready.take() {
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
