//! Fan-out: an encoded event frame to every subscriber of a channel, on every core.
//!
//! The frame is built once by the publishing shard. Locally it is queued on each subscriber's
//! outbox (a refcount bump, no copy, no encoding); every other core gets one ring message per
//! channel and does the same for its own subscribers from its drain task.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::dispatch;
use super::owner::send_to_owner;
use crate::proto::pusher::close_frame;
use crate::proto::pusher::{self, PusherError, SocketId};
use crate::shard::io::outbox::Queued;
use crate::shard::lifecycle::shutdown;
use crate::shard::model::stats::ShardStats;
use crate::shard::state::{Conn, CoreMsg, Shard};

/// Most ring messages handled per drain pass before yielding to connection tasks.
const DRAIN_BATCH: usize = 256;

/// Delivers `frame` to the subscribers of `channel` on this core, skipping `except`.
/// Returns how many connections it was queued for.
pub fn deliver_local(
    shard: &Shard,
    app: usize,
    channel: &str,
    frame: &Bytes,
    except: Option<SocketId>,
    published: Instant,
) -> usize {
    let conns = shard.conns.borrow();
    let index = shard.channels.borrow();
    let mut delivered = 0;
    for &key in index.subscribers(app, channel) {
        let Some(conn) = conns.get(key) else { continue };
        if except == Some(conn.session.socket_id()) {
            continue;
        }
        delivered += usize::from(queue_frame(shard, conn, frame));
    }
    if delivered > 0 {
        let stats = shard.stats();
        ShardStats::add(&stats.messages_out, delivered as u64);
        stats.latency(published.elapsed());
    }
    delivered
}

/// Queues `frame` on `conn`; a slow consumer over its queue cap is closed instead. True when
/// queued.
pub fn queue_frame(shard: &Shard, conn: &Conn, frame: &Bytes) -> bool {
    match conn.outbox.send(frame.clone()) {
        Queued::Yes => true,
        Queued::Closed => false,
        Queued::Overflow => {
            let err = PusherError::OverCapacity;
            tracing::warn!(shard = shard.id, socket_id = %conn.session.socket_id(), queued_bytes = conn.outbox.queued_bytes(), code = err.code(), "slow consumer: outbound queue over its cap, closing");
            let stats = shard.stats();
            ShardStats::add(&stats.slow_consumer_closes, 1);
            stats.error(err.code());
            conn.outbox
                .close_with(Some(close_frame(err.code(), &err.to_string())));
            false
        }
    }
}

/// Publishes `frame` on `channel` here and on the other cores that have subscribers of it.
pub fn publish(shard: &Shard, app: usize, channel: &str, frame: Bytes, except: Option<SocketId>) {
    let published = Instant::now();
    deliver_local(shard, app, channel, &frame, except, published);
    let cores = shard.interest.borrow().cores(app, channel);
    if cores != 0 {
        send_remote(shard, app, channel, frame, except, cores, published);
    }
}

/// Publishes `frame` on `channel` to every core regardless of known interest. Presence member
/// events use it: a member's interest announcement and another member's join may reach the
/// owner in either order, and a missed member event would leave a stale member list.
pub fn publish_everywhere(
    shard: &Shard,
    app: usize,
    channel: &str,
    frame: Bytes,
    except: Option<SocketId>,
) {
    let published = Instant::now();
    deliver_local(shard, app, channel, &frame, except, published);
    let others = shard.ring.borrow().others();
    send_remote(shard, app, channel, frame, except, others, published);
}

fn send_remote(
    shard: &Shard,
    app: usize,
    channel: &str,
    frame: Bytes,
    except: Option<SocketId>,
    cores: u64,
    published: Instant,
) {
    let channel: Arc<str> = Arc::from(channel);
    let mut ring = shard.ring.borrow_mut();
    for dst in (0..ring.cores()).filter(|&d| d != shard.id && cores & (1 << d) != 0) {
        ring.send(
            dst,
            CoreMsg::Publish {
                app,
                channel: channel.clone(),
                frame: frame.clone(),
                except,
                published,
            },
        );
    }
}

/// Publishes an application event (REST or client event): cache channels also hand the frame
/// to their owner, which replays it to later subscribers.
pub fn publish_event(
    shard: &Shard,
    app: usize,
    channel: &str,
    frame: Bytes,
    except: Option<SocketId>,
) {
    if pusher::is_cache_channel(channel) {
        send_to_owner(
            shard,
            channel,
            CoreMsg::CacheStore {
                app,
                channel: Arc::from(channel),
                frame: frame.clone(),
            },
        );
    }
    publish(shard, app, channel, frame, except);
}

/// The shard's drain task: sleeps on the doorbell, then handles incoming ring messages and the
/// core's own queue in batches. While its overflow queues hold messages it also retries them
/// every millisecond.
pub async fn drain_task(shard: Rc<Shard>) {
    let bell = shard.bell.clone();
    // Becomes true once this shard has begun shutting down, so the request wakes it only once.
    let shutting_down = std::cell::Cell::new(false);
    let has_work = || {
        shard.ring.borrow().has_incoming()
            || !shard.self_queue.borrow().is_empty()
            || (!shutting_down.get() && shutdown::requested(&shard))
    };
    loop {
        if !shutting_down.get() && shutdown::requested(&shard) {
            shutting_down.set(true);
            shutdown::begin(&shard);
        }
        let waiting = shard.ring.borrow_mut().flush_overflow();
        if waiting {
            let _ = monoio::time::timeout(Duration::from_millis(1), bell.wait(has_work)).await;
        } else {
            bell.wait(has_work).await;
        }
        while drain_once(&shard) {
            super::yield_now::yield_now().await;
        }
    }
}

/// Handles one batch from the rings and the local queue; false when both were empty.
fn drain_once(shard: &Shard) -> bool {
    let mut batch = Vec::with_capacity(DRAIN_BATCH);
    shard
        .ring
        .borrow_mut()
        .drain(DRAIN_BATCH, |m| batch.push(m));
    {
        let mut own = shard.self_queue.borrow_mut();
        let take = own.len().min(DRAIN_BATCH);
        batch.extend(own.drain(..take));
    }
    if batch.is_empty() {
        return false;
    }
    for msg in batch {
        dispatch::handle(shard, msg);
    }
    true
}

/// Handles everything already in the incoming rings, so that whatever happened before a
/// client's request is applied before the request. A REST publish calls it first (a publisher
/// that sent A through core 1 and, after its answer, B through core 2 must see A before B, and A
/// may still sit in core 2's ring); so does a client event (a member confirmed before it was
/// sent may live on a core whose interest announcement is still in the rings), and so do an
/// unsubscribe and a client's close (an event acknowledged before them belongs to the
/// subscription; the 10-minute soak caught 9 of 9.6M lost this way). Never call it from a message handler (it would handle newer messages before
/// older ones finish). It handles only what is in the rings when called: a steady producer keeps
/// them from ever running empty, and the request must not hold the core meanwhile.
pub fn catch_up(shard: &Shard) {
    crate::ring::catch_up(&shard.ring, DRAIN_BATCH, |msg| dispatch::handle(shard, msg));
}
