//! One Pusher protocol 7 subscriber: connect, subscribe, then log every bench delivery.
//!
//! Owns the per-connection task: the upgrade to `/app/KEY?protocol=7&client=ringcast-load&...`,
//! waiting for `pusher:connection_established`, `pusher:subscribe` and
//! `pusher_internal:subscription_succeeded`, answering `pusher:ping` and WebSocket pings, and
//! appending one 8-byte [`Delivery`] per received bench event. It never touches a histogram or a
//! lock on the receive path: the log is turned into statistics after the run (`stats.rs`).

use std::borrow::Cow;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, watch, Semaphore};

use crate::ws::{Msg, WsConn, OP_PONG};

/// One received bench event: its sequence number and end-to-end latency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub seq: u32,
    pub lat_us: u32,
}

/// State shared by every connection task of a run.
pub struct Shared {
    /// The generator's start; event send times and receive times are nanoseconds since it.
    pub t0: Instant,
    pub addr: SocketAddr,
    pub host: String,
    /// Where subscriber connections go, round robin by connection index (`--sub-ports`;
    /// empty: `addr`).
    pub sub_addrs: Vec<(SocketAddr, String)>,
    /// `/app/KEY?protocol=7&client=ringcast-load&version=1`
    pub path: String,
    /// Flipped once to make every task return its log.
    pub stop: watch::Sender<bool>,
    /// Deliveries received so far, so the drain can end as soon as all arrived.
    pub received: AtomicU64,
    /// Deliveries at or over `slow_us` (the ramp's live p99 check).
    pub slow: AtomicU64,
    pub slow_us: u64,
    pub connect_gate: Semaphore,
    pub setup_timeout: Duration,
    /// `records` mode: each connection registers a filter and subscribes to the collection.
    pub records: Option<Arc<crate::modes::records::RecordsSetup>>,
}

impl Shared {
    pub fn now_ns(&self) -> u64 {
        self.t0.elapsed().as_nanos() as u64
    }

    /// The address and `Host` of subscriber connection `conn`.
    fn sub_addr(&self, conn: usize) -> (SocketAddr, &str) {
        match self.sub_addrs.get(conn % self.sub_addrs.len().max(1)) {
            Some((addr, host)) => (*addr, host),
            None => (self.addr, &self.host),
        }
    }
}

/// What a connection task hands back when the run stops.
#[derive(Debug, Default)]
pub struct ConnOutcome {
    pub conn: usize,
    pub channel: usize,
    /// `Some` if the connection never got subscribed.
    pub setup_error: Option<String>,
    /// Set if the server closed the connection or an I/O error occurred after setup.
    pub dropped: Option<String>,
    pub log: Vec<Delivery>,
    pub pings: u32,
    pub pusher_errors: u32,
}

/// Readiness report sent once per connection: `Ok(conn)` when subscribed.
pub type Ready = Result<usize, (usize, String)>;

#[derive(Deserialize)]
pub struct Incoming<'a> {
    #[serde(borrow)]
    pub event: Cow<'a, str>,
    #[serde(borrow, default)]
    pub channel: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub data: Option<&'a RawValue>,
}

/// A record change's payload `{"action": …, "record": {"seq": N, "t": T, …}}`.
#[derive(Deserialize)]
struct RecordStamp {
    record: Stamp,
}

#[derive(Deserialize)]
/// The send stamp carried in every bench event's data.
pub struct Stamp {
    pub seq: u64,
    pub t: u64,
}

/// Reads `{"seq":N,"t":T}` from a `data` field that is a JSON string (as Pusher sends it) or,
/// leniently, an object. Unescapes simple string data on the stack: no allocation.
pub fn parse_stamp(raw: &str) -> Option<Stamp> {
    parse_data(raw)
}

/// Reads a small JSON object `T` from a `data` field that is a JSON string holding it (REST
/// events) or the object itself (client events). No allocation for short, simply escaped data.
pub fn parse_data<T: serde::de::DeserializeOwned>(raw: &str) -> Option<T> {
    let b = raw.as_bytes();
    if b.first() == Some(&b'{') {
        return serde_json::from_str(raw).ok();
    }
    if b.len() < 2 || b[0] != b'"' || b[b.len() - 1] != b'"' {
        return None;
    }
    let inner = &b[1..b.len() - 1];
    let mut tmp = [0u8; 128];
    let mut n = 0;
    let mut i = 0;
    while i < inner.len() {
        let mut c = inner[i];
        if c == b'\\' {
            i += 1;
            match inner.get(i) {
                Some(&e @ (b'"' | b'\\' | b'/')) => c = e,
                _ => {
                    // Rare escape (\uXXXX, \n...): take the slow, allocating path.
                    let s: String = serde_json::from_str(raw).ok()?;
                    return serde_json::from_str(&s).ok();
                }
            }
        }
        *tmp.get_mut(n)? = c;
        n += 1;
        i += 1;
    }
    serde_json::from_slice(&tmp[..n]).ok()
}

/// Something the receive loop must do with the socket after a message.
enum Action {
    PusherPong,
    WsPong(Vec<u8>),
    Closed,
}

/// Reads until an action is needed, logging bench deliveries on the way.
async fn next_action(
    ws: &mut WsConn,
    shared: &Shared,
    out: &mut ConnOutcome,
) -> io::Result<Action> {
    loop {
        let text = match ws.next().await? {
            Msg::Text(t) => t,
            Msg::Ping(p) => return Ok(Action::WsPong(p.to_vec())),
            Msg::Close => return Ok(Action::Closed),
            Msg::Other => continue,
        };
        let now = shared.now_ns();
        let Ok(m) = serde_json::from_slice::<Incoming>(text) else {
            continue;
        };
        match &*m.event {
            "pusher:ping" => return Ok(Action::PusherPong),
            "pusher:error" => out.pusher_errors += 1,
            _ => {
                let stamp = m.data.and_then(|d| {
                    parse_stamp(d.get())
                        .or_else(|| parse_data::<RecordStamp>(d.get()).map(|r| r.record))
                });
                if let Some(st) = stamp {
                    let lat_us = now.saturating_sub(st.t) / 1000;
                    out.log.push(Delivery {
                        seq: st.seq as u32,
                        lat_us: lat_us.min(u32::MAX as u64) as u32,
                    });
                    shared.received.fetch_add(1, Ordering::Relaxed);
                    if lat_us >= shared.slow_us {
                        shared.slow.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

/// Connects (connection `conn`), subscribes to `channel_name` and waits for the subscription
/// to succeed. In the `records` mode it first registers connection `conn`'s filter and
/// subscribes to the collection's channel instead.
async fn setup(shared: &Shared, conn: usize, channel_name: &str) -> Result<WsConn, String> {
    let (addr, host) = shared.sub_addr(conn);
    let (mut ws, socket_id) = crate::pusher::connect(addr, host, &shared.path).await?;
    let channel_name = match &shared.records {
        Some(records) => {
            records.register(conn, &socket_id, channel_name).await?;
            records.channel.as_str()
        }
        None => channel_name,
    };
    ws.send_text(&crate::pusher::subscribe_frame(channel_name, None))
        .await
        .map_err(|e| format!("subscribe: {e}"))?;
    loop {
        let text = match ws
            .next()
            .await
            .map_err(|e| format!("subscribe read: {e}"))?
        {
            Msg::Text(t) => t.to_vec(),
            Msg::Close => return Err("closed during setup".into()),
            _ => continue,
        };
        let m: Incoming = serde_json::from_slice(&text).map_err(|e| format!("bad JSON: {e}"))?;
        match &*m.event {
            "pusher_internal:subscription_succeeded" => return Ok(ws),
            "pusher:ping" => {
                ws.send_text(PONG).await.map_err(|e| e.to_string())?;
            }
            "pusher:error" | "pusher:subscription_error" => {
                return Err(format!("server said: {}", String::from_utf8_lossy(&text)))
            }
            _ => {}
        }
    }
}

/// Waits until no delivery arrived for `quiet`, or until `deadline`: the end of a run's drain.
pub async fn drain_quiet(shared: &Shared, deadline: Instant, quiet: Duration) {
    let mut last = u64::MAX;
    while Instant::now() < deadline {
        let now = shared.received.load(Ordering::Relaxed);
        if now == last {
            break;
        }
        last = now;
        tokio::time::sleep(quiet).await;
    }
}

pub const PONG: &str = r#"{"event":"pusher:pong","data":"{}"}"#;

/// The whole life of one subscriber. Reports readiness on `ready`, then receives until stopped.
pub async fn run(
    shared: Arc<Shared>,
    conn: usize,
    channel: usize,
    channel_name: Arc<str>,
    ready: mpsc::UnboundedSender<Ready>,
) -> ConnOutcome {
    let mut out = ConnOutcome {
        conn,
        channel,
        ..ConnOutcome::default()
    };
    // Subscribe to the stop signal before reporting ready, so it cannot be missed.
    let mut stop_rx = shared.stop.subscribe();
    let setup_result = {
        let _permit = shared.connect_gate.acquire().await;
        // Boxed: the setup state is freed once subscribed instead of sizing every idle task.
        Box::pin(tokio::time::timeout(
            shared.setup_timeout,
            setup(&shared, conn, &channel_name),
        ))
        .await
        .unwrap_or_else(|_| Err("setup timed out".into()))
    };
    let mut ws = match setup_result {
        Ok(ws) => ws,
        Err(e) => {
            out.setup_error = Some(e.clone());
            let _ = ready.send(Err((conn, e)));
            return out;
        }
    };
    let _ = ready.send(Ok(conn));
    drop(ready);
    let stopped = stop_rx.changed();
    tokio::pin!(stopped);
    loop {
        let step = tokio::select! {
            biased;
            _ = &mut stopped => None,
            r = next_action(&mut ws, &shared, &mut out) => Some(r),
        };
        let result = match step {
            None => break,
            Some(Ok(Action::PusherPong)) => {
                out.pings += 1;
                ws.send_text(PONG).await
            }
            Some(Ok(Action::WsPong(p))) => ws.send(OP_PONG, &p).await,
            Some(Ok(Action::Closed)) => Err(io::Error::other("server closed the connection")),
            Some(Err(e)) => Err(e),
        };
        if let Err(e) = result {
            out.dropped = Some(e.to_string());
            // Keep the log; wait for the stop so the report is taken at one moment.
            let _ = stopped.await;
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_from_string_and_object() {
        let s = parse_stamp(r#""{\"seq\":7,\"t\":123456}""#).unwrap();
        assert_eq!((s.seq, s.t), (7, 123456));
        let s = parse_stamp(r#"{"seq":8,"t":9}"#).unwrap();
        assert_eq!((s.seq, s.t), (8, 9));
        let s = parse_stamp(r#""{\"seq\":1,\"t\":2,\"p\":\"\u00e9\"}""#).unwrap();
        assert_eq!((s.seq, s.t), (1, 2));
        assert!(parse_stamp(r#""hello""#).is_none());
    }
}
