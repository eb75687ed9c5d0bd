//! The idle sweeper: once a second it pings silent clients, closes those that never answer
//! (Pusher error 4201), and tears down sessions whose close handshake stalled.
//!
//! One pass walks this shard's connections in memory; it never waits on a socket.

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::proto::pusher::text_frame;
use crate::proto::pusher::{self, PusherError};
use crate::shard::io::session::refuse;
use crate::shard::state::Shard;

/// How often the sweeper runs.
const PERIOD: Duration = Duration::from_secs(1);
/// How long a closing session may wait for the peer's close frame before its read is cancelled.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Runs forever on its shard.
pub async fn sweeper_task(shard: Rc<Shard>) {
    loop {
        monoio::time::sleep(PERIOD).await;
        sweep(&shard, Instant::now());
    }
}

/// Publishes the ring counters (owned by the endpoint) to the shard's metrics.
fn ring_stats(shard: &Shard) {
    let ring = shard.ring.borrow();
    let stats = shard.stats();
    let counters = ring.stats();
    stats.ring_sent.store(counters.sent, Ordering::Relaxed);
    stats
        .ring_overflowed
        .store(counters.overflowed, Ordering::Relaxed);
    stats
        .ring_overflow_depth
        .store(ring.overflow_len() as u64, Ordering::Relaxed);
}

fn sweep(shard: &Shard, now: Instant) {
    ring_stats(shard);
    shard.ip_window.borrow_mut().prune(now);
    let mut conns = shard.conns.borrow_mut();
    for (_, conn) in conns.iter_mut() {
        if let Some(since) = conn.closing_since {
            if now.duration_since(since) >= CLOSE_GRACE {
                if let Some(canceller) = conn.canceller.take() {
                    canceller.cancel();
                }
                // A peer that never read our close frame must not pin its queue and socket.
                conn.outbox.abort();
            }
            continue;
        }
        if conn.outbox.is_closing() {
            conn.closing_since = Some(now);
            continue;
        }
        let app = &shard.config.apps[conn.app];
        if let Some(limit) = app.user_authentication_timeout {
            if conn.user_id.is_none() && now.duration_since(conn.opened) >= secs(limit) {
                refuse(shard, &conn.outbox, &PusherError::SigninTimeout);
                conn.closing_since = Some(now);
                continue;
            }
        }
        match conn.ping_sent {
            Some(sent) if now.duration_since(sent) >= secs(app.activity_timeout) => {
                refuse(shard, &conn.outbox, &PusherError::PongNotReceived);
                conn.closing_since = Some(now);
            }
            Some(_) => {}
            None if now.duration_since(conn.last_seen) >= secs(app.ping_interval) => {
                conn.outbox.send(text_frame(pusher::ping()));
                conn.ping_sent = Some(now);
            }
            None => {}
        }
    }
}

fn secs(n: u32) -> Duration {
    Duration::from_secs(u64::from(n))
}
