//! The notification delivery loop on the control core: claims due notifications from the store
//! in leased chunks, keeps the near future on the timing wheel, and at the due time hands each
//! one's encoded frame to a shard, which publishes it through the normal fan-out.
//!
//! Owns the shell around the pure scheduler (`crate::scheduler`): clock reads, store calls and
//! the control star. A notification is marked delivered once its frame is in a shard's ring;
//! a crash between the two delivers it again after the restart under the same id (receivers
//! drop the repeat), never loses it. After a restart the previous run's leases are void: the
//! first claims treat them as expired, so overdue notifications go out at once.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::directory::Directory;
use super::msg::{ControlMsg, Notify, Published};
use super::now_ms;
use super::record::record;
use crate::proto::pusher;
use crate::ring::Endpoint;
use crate::scheduler::{plan_claims, AfterFailure, Claim, Payload, RetryPolicy, Wheel, HORIZON_MS};
use crate::shard::Shared;
use crate::store::{
    DeliveryStore, Notification, NotificationOutcome, NotificationStatus, NotificationStore,
};

/// How far ahead notifications are claimed onto the wheel.
const LOOKAHEAD_MS: i64 = 2_000;
/// How long a claim holds a notification; longer than the lookahead, so a notification is
/// due before its lease ends.
const LEASE_MS: i64 = 30_000;
/// Notifications claimed per store call.
const CHUNK: usize = 1_000;
/// Longest sleep between claims: a notification created due sooner than the lookahead waits
/// at most this long to be claimed.
const POLL: Duration = Duration::from_millis(100);
/// How long delivered, failed and cancelled notifications are kept.
const RETENTION_MS: i64 = 30 * 24 * 3600 * 1000;
/// How often old notifications are pruned, and how many rows one pass removes.
const PRUNE_EVERY_MS: i64 = 60_000;
const PRUNE_BATCH: usize = 1_000;
/// How often the pending gauge is recounted.
const COUNT_EVERY_MS: i64 = 5_000;
/// How soon frames waiting for room in a shard's ring are pushed again.
const OVERFLOW_RETRY: Duration = Duration::from_millis(1);

/// What the loop needs besides the store.
pub struct Notifier {
    /// The control core's end of the control star, shared with the request loop.
    pub ring: Rc<RefCell<Endpoint<ControlMsg>>>,
    /// App ids in `Config::apps` order: a shard names apps by index.
    pub apps: Vec<String>,
    /// The webhook endpoints, which receive delivered notifications like published events.
    pub dir: Rc<RefCell<Directory>>,
    /// Where `/metrics` reads the scheduler's figures.
    pub shared: Arc<Shared>,
    /// The store is shared with other nodes (scaling on): leases found at start are theirs
    /// and live, never taken over.
    pub cluster: bool,
}

/// The loop's own state.
struct Pending {
    wheel: Wheel<Notification>,
    /// Ids on the wheel, so a claim that outlives its lease never schedules one twice.
    held: HashSet<String>,
    retry: RetryPolicy,
}

/// Delivers due notifications until `stop` says so.
pub async fn run<S: NotificationStore + DeliveryStore>(
    store: Rc<S>,
    ctx: Notifier,
    stop: impl Fn() -> bool,
) {
    let mut state = Pending {
        wheel: Wheel::new(now_ms().max(0) as u64),
        held: HashSet::new(),
        retry: RetryPolicy::default(),
    };
    // The first pass may take over the previous run's leases: no one else holds them, unless
    // the store is shared.
    let mut restarted = !ctx.cluster;
    let (mut pruned_at, mut counted_at) = (0, 0);
    while !stop() {
        if now_ms() - pruned_at >= PRUNE_EVERY_MS {
            pruned_at = now_ms();
            prune(store.as_ref(), pruned_at).await;
        }
        if now_ms() - counted_at >= COUNT_EVERY_MS {
            counted_at = now_ms();
            count_pending(store.as_ref(), &ctx).await;
        }
        fire(store.as_ref(), &ctx, &mut state).await;
        claim(store.as_ref(), &ctx, &mut state, restarted).await;
        restarted = false;
        let now = now_ms().max(0) as u64;
        let mut wait = state
            .wheel
            .next_deadline()
            .map_or(POLL, |at| Duration::from_millis(at.saturating_sub(now)))
            .min(POLL);
        // Frames that found a shard's ring full wait in the overflow queue; keep pushing.
        if ctx.ring.borrow_mut().flush_overflow() {
            wait = wait.min(OVERFLOW_RETRY);
        }
        monoio::time::sleep(wait).await;
    }
}

/// Removes finished notifications older than the retention period, a batch at a time.
async fn prune<S: NotificationStore>(store: &S, now: i64) {
    loop {
        match store
            .prune_notifications(now - RETENTION_MS, PRUNE_BATCH)
            .await
        {
            Ok(n) if n as usize == PRUNE_BATCH => monoio::time::sleep(Duration::ZERO).await,
            Ok(n) => {
                if n > 0 {
                    tracing::info!(removed = n, "pruned old notifications");
                }
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot prune old notifications");
                return;
            }
        }
    }
}

/// Refreshes the pending gauge of every app.
async fn count_pending<S: NotificationStore>(store: &S, ctx: &Notifier) {
    for (app, gauge) in ctx.apps.iter().zip(&ctx.shared.notifications.pending) {
        match store.count_pending_notifications(app).await {
            Ok(n) => gauge.store(n, Ordering::Relaxed),
            Err(e) => tracing::warn!(app = %app, error = %e, "cannot count pending notifications"),
        }
    }
}

/// Publishes what the wheel says is due, in due-time order.
async fn fire<S: NotificationStore + DeliveryStore>(
    store: &S,
    ctx: &Notifier,
    state: &mut Pending,
) {
    let mut due = Vec::new();
    state.wheel.advance(now_ms().max(0) as u64, &mut due);
    for (_, n) in due {
        state.held.remove(&n.id);
        deliver(store, ctx, state, n).await;
    }
}

/// Claims chunks of notifications due within the lookahead: overdue ones go out at once, the
/// rest onto the wheel.
async fn claim<S: NotificationStore + DeliveryStore>(
    store: &S,
    ctx: &Notifier,
    state: &mut Pending,
    restarted: bool,
) {
    loop {
        let now = now_ms();
        // A lease from the previous run ended at most LEASE_MS after its last claim.
        let lease_now = if restarted { now + LEASE_MS } else { now };
        let rows = match store
            .claim_due_notifications(now + LOOKAHEAD_MS, lease_now, LEASE_MS, CHUNK)
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "cannot claim due notifications");
                return;
            }
        };
        let full = rows.len() == CHUNK;
        let claims = rows
            .into_iter()
            .filter(|n| !state.held.contains(&n.id))
            .map(|n| Claim {
                deliver_at_ms: n.due_at_ms.max(0) as u64,
                key: n,
            })
            .collect();
        let plan = plan_claims(claims, now.max(0) as u64, HORIZON_MS);
        for c in plan.publish_now {
            deliver(store, ctx, state, c.key).await;
        }
        for c in plan.schedule {
            let id = c.key.id.clone();
            if state.wheel.insert(c.deliver_at_ms, c.key).is_ok() {
                state.held.insert(id);
            }
        }
        // `plan.release`: beyond the wheel; the lease lapses and a later claim takes them.
        if !full {
            return;
        }
    }
}

/// Hands `n` to a shard and records the outcome; a failure is retried, then failed.
async fn deliver<S: NotificationStore + DeliveryStore>(
    store: &S,
    ctx: &Notifier,
    state: &Pending,
    n: Notification,
) {
    // Cancelled while on the wheel? Nothing else runs on this core between this check and
    // the send, so a cancel cannot slip in.
    match store.get_notification(&n.app_id, &n.id).await {
        Ok(now) if now.status == NotificationStatus::Pending => {}
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(id = %n.id, error = %e, "notification vanished before delivery");
            return;
        }
    }
    let now = now_ms();
    let outcome = match publish(store, ctx, &n, now).await {
        Ok(()) => {
            let late_ms = (now - n.due_at_ms).max(0);
            tracing::debug!(id = %n.id, channel = %n.channel, late_ms, "notification delivered");
            ctx.shared.notifications.delivered(late_ms as u64);
            NotificationOutcome::Delivered
        }
        Err(why) => {
            tracing::warn!(id = %n.id, error = %why, attempts = n.attempts + 1, "notification not delivered");
            match state
                .retry
                .after_failure(n.attempts + 1, now.max(0) as u64, &why)
            {
                AfterFailure::Retry { at_ms } => NotificationOutcome::Reschedule {
                    at_ms: at_ms as i64,
                },
                AfterFailure::Fail { reason } => {
                    ctx.shared
                        .notifications
                        .failed
                        .fetch_add(1, Ordering::Relaxed);
                    NotificationOutcome::Failed { reason }
                }
            }
        }
    };
    if let Err(e) = store.settle_notification(&n.id, &outcome, now).await {
        tracing::error!(id = %n.id, error = %e, "cannot record a notification's outcome");
    }
}

/// Records `n`'s webhook deliveries, then encodes its frame and sends it to the shard that
/// publishes its channel (always the same one, so a channel's notifications stay in order
/// through the FIFO rings). Every check comes before the send: an error sends nothing.
async fn publish<S: DeliveryStore>(
    store: &S,
    ctx: &Notifier,
    n: &Notification,
    now: i64,
) -> Result<(), String> {
    let app = ctx
        .apps
        .iter()
        .position(|a| *a == n.app_id)
        .ok_or_else(|| format!("app '{}' is no longer configured", n.app_id))?;
    let payload =
        Payload::decode(&n.payload).map_err(|e| format!("stored payload is unreadable: {e}"))?;
    let shards = ctx.ring.borrow().cores() - 1;
    if shards == 0 {
        return Err("no shard is running".to_owned());
    }
    let event = Published {
        name: n.event.clone(),
        channels: vec![n.channel.clone()],
        // The literal was checked as a JSON string when the notification was accepted.
        data: serde_json::from_str(&payload.data_literal).unwrap_or_default(),
    };
    record(store, &ctx.dir, &n.app_id, &[event], now)
        .await
        .map_err(|e| format!("cannot record its webhook deliveries: {e}"))?;
    let json = pusher::channel_event(&n.event, &n.channel, &payload.data_literal, None);
    ctx.ring.borrow_mut().send(
        shard_for(&n.channel, shards),
        ControlMsg::Notify(Box::new(Notify {
            app,
            channel: n.channel.clone(),
            frame: pusher::text_frame(&json),
        })),
    );
    Ok(())
}

/// The shard that publishes `channel`: FNV-1a of the name.
fn shard_for(channel: &str, shards: usize) -> usize {
    let hash = channel.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % shards as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_always_goes_to_the_same_shard() {
        let a = shard_for("private-notification.42", 4);
        assert!(a < 4);
        assert_eq!(a, shard_for("private-notification.42", 4));
        let spread: HashSet<usize> = (0..64)
            .map(|i| shard_for(&format!("private-notification.{i}"), 4))
            .collect();
        assert_eq!(spread.len(), 4);
        assert_eq!(shard_for("x", 1), 0);
    }
}
