//! The sweeper: once a second it gives every session its timer tick (pings, pong and sign-in
//! deadlines are the session's rules), and tears down connections whose close handshake
//! stalled.
//!
//! One pass walks this shard's connections in memory; it never waits on a socket.

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::proto::pusher::session::Input;
use crate::shard::io::effects;
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
    for key in effects::keys(shard, |_| true) {
        if closing(shard, key, now) {
            continue;
        }
        effects::feed(shard, key, Input::Tick);
        if let Some(conn) = shard.conns.borrow_mut().get_mut(key) {
            if conn.outbox.is_closing() {
                conn.closing_since = Some(now);
            }
        }
    }
}

/// True when connection `key` is closing (or gone): after [`CLOSE_GRACE`] its read is cancelled
/// and its writer aborted, since a peer that never reads our close frame must not pin its queue
/// and socket.
fn closing(shard: &Shard, key: usize, now: Instant) -> bool {
    let mut conns = shard.conns.borrow_mut();
    let Some(conn) = conns.get_mut(key) else {
        return true;
    };
    if let Some(since) = conn.closing_since {
        if now.duration_since(since) >= CLOSE_GRACE {
            if let Some(canceller) = conn.canceller.take() {
                canceller.cancel();
            }
            conn.outbox.abort();
        }
        return true;
    }
    if conn.outbox.is_closing() {
        conn.closing_since = Some(now);
        return true;
    }
    false
}
