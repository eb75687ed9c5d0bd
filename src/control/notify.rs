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
use std::time::Duration;

use super::msg::{ControlMsg, Notify};
use super::now_ms;
use crate::proto::pusher;
use crate::ring::Endpoint;
use crate::scheduler::{plan_claims, AfterFailure, Claim, Payload, RetryPolicy, Wheel, HORIZON_MS};
use crate::store::{Notification, NotificationOutcome, NotificationStatus, NotificationStore};

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
/// How soon frames waiting for room in a shard's ring are pushed again.
const OVERFLOW_RETRY: Duration = Duration::from_millis(1);

/// What the loop needs besides the store.
pub struct Notifier {
    /// The control core's end of the control star, shared with the request loop.
    pub ring: Rc<RefCell<Endpoint<ControlMsg>>>,
    /// App ids in `Config::apps` order: a shard names apps by index.
    pub apps: Vec<String>,
}

/// The loop's own state.
struct Pending {
    wheel: Wheel<Notification>,
    /// Ids on the wheel, so a claim that outlives its lease never schedules one twice.
    held: HashSet<String>,
    retry: RetryPolicy,
}

/// Delivers due notifications until `stop` says so.
pub async fn run<S: NotificationStore>(store: Rc<S>, ctx: Notifier, stop: impl Fn() -> bool) {
    let mut state = Pending {
        wheel: Wheel::new(now_ms().max(0) as u64),
        held: HashSet::new(),
        retry: RetryPolicy::default(),
    };
    // The first pass may take over the previous run's leases: no one else holds them.
    let mut restarted = true;
    while !stop() {
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

/// Publishes what the wheel says is due, in due-time order.
async fn fire<S: NotificationStore>(store: &S, ctx: &Notifier, state: &mut Pending) {
    let mut due = Vec::new();
    state.wheel.advance(now_ms().max(0) as u64, &mut due);
    for (_, n) in due {
        state.held.remove(&n.id);
        deliver(store, ctx, state, n).await;
    }
}

/// Claims chunks of notifications due within the lookahead: overdue ones go out at once, the
/// rest onto the wheel.
async fn claim<S: NotificationStore>(
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
async fn deliver<S: NotificationStore>(
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
    let outcome = match publish(ctx, &n) {
        Ok(()) => {
            tracing::debug!(id = %n.id, channel = %n.channel, late_ms = now - n.due_at_ms, "notification delivered");
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
                AfterFailure::Fail { reason } => NotificationOutcome::Failed { reason },
            }
        }
    };
    if let Err(e) = store.settle_notification(&n.id, &outcome, now).await {
        tracing::error!(id = %n.id, error = %e, "cannot record a notification's outcome");
    }
}

/// Encodes `n`'s frame and sends it to the shard that publishes its channel (always the same
/// one, so a channel's notifications stay in order through the FIFO rings).
fn publish(ctx: &Notifier, n: &Notification) -> Result<(), String> {
    let app = ctx
        .apps
        .iter()
        .position(|a| *a == n.app_id)
        .ok_or_else(|| format!("app '{}' is no longer configured", n.app_id))?;
    let payload =
        Payload::decode(&n.payload).map_err(|e| format!("stored payload is unreadable: {e}"))?;
    let json = pusher::channel_event(&n.event, &n.channel, &payload.data_literal, None);
    let mut ring = ctx.ring.borrow_mut();
    let shards = ring.cores() - 1;
    if shards == 0 {
        return Err("no shard is running".to_owned());
    }
    ring.send(
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
