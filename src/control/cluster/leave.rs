//! A clean leave: on shutdown the node removes its own share from Redis at once, as a sweep
//! of a dead node would 12.5 s later, and announces what the cluster lost.
//!
//! The task starts the leave as soon as the shutdown flag is up (the shards are then still
//! draining, so their last leaves race with it; Redis decides each member once: a member the
//! node's own leave removed is not in the share any more, and a leave after the sweep finds
//! nothing). It runs the sweep script on this node (claim and removal in one step), hands
//! the `member_removed`, `offline` and webhook events out like a sweeper would, deletes the
//! heartbeat key, and then drops its connection for good: later changes are answered with
//! no cluster outcome, so the draining shards fall back to their own clients. The serve loop
//! waits (at most [`FINISH_WAIT`]) for the leave and for the relay to publish its events,
//! then records the channel webhooks still held back or batched in memory (the leave's
//! `member_removed` and `channel_vacated` among them) in the shared store, where the nodes
//! that stay find and deliver them, and waits for the delivery loop to hand back the
//! deliveries it claimed and had not started, before the control core ends.

use std::time::{Duration, Instant};

use super::scripts::{self, Scope};
use super::task::{announce_swept, call};
use super::Cluster;
use crate::broker::heartbeat::Membership;
use crate::broker::{liveness, Connection};
use crate::control::msg::ControlMsg;
use crate::control::pusher_hooks::{self, PusherHooks};
use crate::control::relay::Relay;
use crate::control::{deliver, due, now_ms};
use crate::ring::Endpoint;

/// Longest wait, at stop, for the leave and its events.
const FINISH_WAIT: Duration = Duration::from_secs(3);

/// Longest wait, at stop, for the held back channel webhooks to be recorded.
const RECORD_WAIT: Duration = Duration::from_secs(2);

/// How often the serve loop looks again while it waits.
const POLL: Duration = Duration::from_millis(10);

/// Removes this node's share and its heartbeat; the connection is dropped afterwards.
pub async fn run(
    cluster: &Cluster,
    scope: &Scope,
    membership: &Membership,
    conn: &mut Option<Connection>,
) {
    let registry = membership.registry_key();
    let cmd = scope.sweep(&scope.node, &registry);
    if let Some(swept) = call(conn, cmd, "clean leave")
        .await
        .and_then(scripts::swept)
    {
        tracing::info!(node = %scope.node, members_removed = swept.members.len(), channels_vacated = swept.vacated.len(), "shutting down: this node removed its share from the cluster");
        announce_swept(cluster, swept);
    }
    if let Some(c) = conn.as_mut() {
        if let Err(e) = liveness::leave(c, membership).await {
            tracing::warn!(error = %e, "shutting down: the heartbeat key stays until it expires");
        }
    }
    *conn = None;
    cluster.left.set(true);
    // Wakes the serve loop even when the leave had nothing to announce.
    cluster.wake.ring();
}

/// At stop: asks for the leave if the task has not started it, hands its events on until it
/// is done and the relay has published them (or [`FINISH_WAIT`] passed), then records the
/// held back channel webhooks and hands back the unstarted claims (at most [`RECORD_WAIT`]
/// each).
pub async fn finish(
    cluster: &Cluster,
    relay: &Relay,
    endpoint: &std::cell::RefCell<Endpoint<ControlMsg>>,
    hooks: &std::rc::Rc<PusherHooks>,
) {
    cluster.ask_leave();
    let end = Instant::now() + FINISH_WAIT;
    loop {
        cluster.flush(&mut endpoint.borrow_mut(), relay, hooks);
        relay.deliver(&mut endpoint.borrow_mut());
        if cluster.left.get() && relay.flushed() {
            break;
        }
        if Instant::now() >= end {
            tracing::warn!("stopping before the clean leave finished: the other nodes' sweep removes this node's share");
            break;
        }
        monoio::time::sleep(POLL).await;
    }
    // The leave's webhooks (`member_removed`, `channel_vacated`) are held back or batched in
    // memory: recorded in the shared store now, the nodes that stay deliver them.
    let record = pusher_hooks::flush_at_stop(hooks);
    if monoio::time::timeout(RECORD_WAIT, record).await.is_err() {
        tracing::warn!(
            wait_ms = RECORD_WAIT.as_millis() as u64,
            "stopping before the held back channel webhooks were recorded; they are lost"
        );
    }
    hand_back_claims().await;
}

/// Wakes the delivery loop, which has seen the stop, and waits (at most [`RECORD_WAIT`])
/// until it has handed back the deliveries it claimed and not started, so another node
/// sends them at once instead of after their lease.
async fn hand_back_claims() {
    due::ring(now_ms());
    let end = Instant::now() + RECORD_WAIT;
    while !deliver::handed_back() {
        if Instant::now() >= end {
            tracing::warn!("stopping before the claimed webhook deliveries were handed back; they wait out their lease");
            return;
        }
        monoio::time::sleep(POLL).await;
    }
}
