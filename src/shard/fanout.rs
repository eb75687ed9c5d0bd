//! Fan-out: an encoded event frame to every subscriber of a channel, on every core.
//!
//! The frame is built once by the publishing shard. Locally it is queued on each subscriber's
//! outbox (a refcount bump, no copy, no encoding); every other core gets one ring message per
//! channel and does the same for its own subscribers from its drain task.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::outbox::Queued;
use super::state::{CoreMsg, Shard};
use crate::proto::pusher::SocketId;

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
) -> usize {
    let conns = shard.conns.borrow();
    let index = shard.channels.borrow();
    let mut delivered = 0;
    for &key in index.subscribers(app, channel) {
        let Some(conn) = conns.get(key) else { continue };
        if except == Some(conn.socket_id) {
            continue;
        }
        match conn.outbox.send(frame.clone()) {
            Queued::Yes => delivered += 1,
            Queued::Closed => {}
            Queued::Overflow => {
                tracing::warn!(shard = shard.id, socket_id = %conn.socket_id, "slow consumer: outbound queue full, closing");
                conn.outbox.close_with(None);
            }
        }
    }
    delivered
}

/// Publishes `frame` on `channel` to this core and every other core.
///
/// Messages already waiting in this core's incoming rings are delivered first: a publisher that
/// sent event A through core 1 and, after its answer, event B through core 2 must see A before
/// B on every subscriber, and A may still sit in core 2's ring.
pub fn publish(shard: &Shard, app: usize, channel: &str, frame: Bytes, except: Option<SocketId>) {
    drain_now(shard);
    deliver_local(shard, app, channel, &frame, except);
    let mut ring = shard.ring.borrow_mut();
    let cores = ring.cores();
    if cores == 1 {
        return;
    }
    let channel: Arc<str> = Arc::from(channel);
    for dst in (0..cores).filter(|&d| d != shard.id) {
        ring.send(
            dst,
            CoreMsg::Publish {
                app,
                channel: channel.clone(),
                frame: frame.clone(),
                except,
            },
        );
    }
}

/// The shard's drain task: sleeps on the doorbell, then handles incoming ring messages in
/// batches. While its own overflow queues hold messages it also retries them every millisecond.
pub async fn drain_task(shard: Rc<Shard>) {
    let bell = shard.ring.borrow().bell();
    loop {
        let waiting = shard.ring.borrow_mut().flush_overflow();
        if waiting {
            let wait = bell.wait(|| shard.ring.borrow().has_incoming());
            let _ = monoio::time::timeout(Duration::from_millis(1), wait).await;
        } else {
            bell.wait(|| shard.ring.borrow().has_incoming()).await;
        }
        loop {
            let mut batch = Vec::with_capacity(DRAIN_BATCH);
            shard
                .ring
                .borrow_mut()
                .drain(DRAIN_BATCH, |m| batch.push(m));
            if batch.is_empty() {
                break;
            }
            for msg in batch {
                handle(&shard, msg);
            }
            super::yield_now().await;
        }
    }
}

/// Handles everything in the incoming rings right away (used before a local publish).
fn drain_now(shard: &Shard) {
    loop {
        let mut batch = Vec::new();
        shard
            .ring
            .borrow_mut()
            .drain(DRAIN_BATCH, |m| batch.push(m));
        if batch.is_empty() {
            return;
        }
        for msg in batch {
            handle(shard, msg);
        }
    }
}

fn handle(shard: &Shard, msg: CoreMsg) {
    match msg {
        CoreMsg::Publish {
            app,
            channel,
            frame,
            except,
        } => {
            deliver_local(shard, app, &channel, &frame, except);
        }
    }
}
