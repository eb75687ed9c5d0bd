//! The notification delivery loop on the control core: claims due notifications from the store
//! in leased chunks, keeps the near future on the timing wheel, and at the due time hands each
//! one's encoded frame to a shard, which publishes it through the normal fan-out.
//!
//! Everything due together is one batch: one read checks that none was cancelled, one
//! transaction records their webhook deliveries, and one transaction settles them. Claims run
//! at most every [`POLL`], and the loop wakes at most every [`BATCH_WINDOW`], so the store sees
//! a few hundred transactions a second at a million notifications a minute, not thousands.
//!
//! Owns the shell around the pure scheduler (`crate::scheduler`): clock reads, store calls and
//! the control star. A notification is marked delivered once its frame is in a shard's ring;
//! a crash between the two delivers it again after the restart under the same id (receivers
//! drop the repeat), never loses it. After a restart the previous run's leases are void: the
//! first claims treat them as expired, so overdue notifications go out at once.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
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
use crate::store::{DeliveryStore, Notification, NotificationOutcome, NotificationStore};

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
/// The shortest sleep: notifications due within it go out together, at most this late.
const BATCH_WINDOW: Duration = Duration::from_millis(5);
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
    let (mut pruned_at, mut counted_at, mut claimed_at) = (0, 0, 0);
    let poll_ms = POLL.as_millis() as i64;
    while !stop() {
        if now_ms() - pruned_at >= PRUNE_EVERY_MS {
            pruned_at = now_ms();
            prune(store.as_ref(), pruned_at, RETENTION_MS).await;
        }
        if now_ms() - counted_at >= COUNT_EVERY_MS {
            counted_at = now_ms();
            count_pending(store.as_ref(), &ctx).await;
        }
        fire(store.as_ref(), &ctx, &mut state).await;
        if now_ms() - claimed_at >= poll_ms {
            claimed_at = now_ms();
            claim(store.as_ref(), &ctx, &mut state, restarted).await;
            restarted = false;
        }
        let now = now_ms();
        let next_claim = Duration::from_millis((claimed_at + poll_ms - now).max(0) as u64);
        let mut wait = state
            .wheel
            .next_deadline()
            .map_or(POLL, |at| {
                Duration::from_millis(at.saturating_sub(now.max(0) as u64))
            })
            .min(next_claim)
            .max(BATCH_WINDOW);
        // Frames that found a shard's ring full wait in the overflow queue; keep pushing.
        if ctx.ring.borrow_mut().flush_overflow() {
            wait = wait.min(OVERFLOW_RETRY);
        }
        monoio::time::sleep(wait).await;
    }
}

/// Removes finished notifications last changed more than `retention_ms` before `now`, a batch
/// at a time.
async fn prune<S: NotificationStore>(store: &S, now: i64, retention_ms: i64) {
    loop {
        match store
            .prune_notifications(now - retention_ms, PRUNE_BATCH)
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
    let batch: Vec<Notification> = due
        .into_iter()
        .map(|(_, n)| {
            state.held.remove(&n.id);
            n
        })
        .collect();
    deliver(store, ctx, state, batch).await;
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
        let overdue = plan.publish_now.into_iter().map(|c| c.key).collect();
        deliver(store, ctx, state, overdue).await;
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

/// Hands a batch (in due order) to the shards and records the outcomes in one transaction;
/// a failure is retried, then failed. A store error leaves the batch leased: the leases lapse
/// and a later claim takes them again.
async fn deliver<S: NotificationStore + DeliveryStore>(
    store: &S,
    ctx: &Notifier,
    state: &Pending,
    batch: Vec<Notification>,
) {
    if batch.is_empty() {
        return;
    }
    // Cancelled while on the wheel? Nothing else runs on this core between this check and
    // the sends, so a cancel cannot slip in.
    let ids: Vec<String> = batch.iter().map(|n| n.id.clone()).collect();
    let pending = match store.pending_among(&ids).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, count = ids.len(), "cannot check due notifications");
            return;
        }
    };
    let batch: Vec<Notification> = batch
        .into_iter()
        .zip(pending)
        .filter_map(|(n, p)| p.then_some(n))
        .collect();
    let now = now_ms();
    let hooks = record_webhooks(store, ctx, &batch, now).await;
    let outcomes: Vec<(String, NotificationOutcome)> = batch
        .into_iter()
        .map(|n| {
            let sent = match hooks.get(n.app_id.as_str()) {
                Some(Err(why)) => Err(why.clone()),
                _ => publish(ctx, &n),
            };
            let outcome = outcome_of(ctx, state, &n, sent, now);
            (n.id, outcome)
        })
        .collect();
    if let Err(e) = store.settle_notifications(&outcomes, now).await {
        tracing::error!(error = %e, count = outcomes.len(), "cannot record notification outcomes");
    }
}

/// Counts a publish's result and turns it into what the store keeps.
fn outcome_of(
    ctx: &Notifier,
    state: &Pending,
    n: &Notification,
    sent: Result<(), String>,
    now: i64,
) -> NotificationOutcome {
    let why = match sent {
        Ok(()) => {
            let late_ms = (now - n.due_at_ms).max(0);
            tracing::debug!(id = %n.id, channel = %n.channel, late_ms, "notification delivered");
            ctx.shared.notifications.delivered(late_ms as u64);
            return NotificationOutcome::Delivered;
        }
        Err(why) => why,
    };
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

/// Records the webhook deliveries of the batch, one store call per app whose endpoints take
/// events (others cost nothing here). Answers per app; an app missing from the map had nothing
/// to record.
async fn record_webhooks<S: DeliveryStore>(
    store: &S,
    ctx: &Notifier,
    batch: &[Notification],
    now: i64,
) -> BTreeMap<String, Result<(), String>> {
    let mut events: BTreeMap<String, Vec<Published>> = BTreeMap::new();
    for n in batch {
        if !ctx.dir.borrow().receives_events(&n.app_id) {
            continue;
        }
        let Ok(payload) = Payload::decode(&n.payload) else {
            continue; // `publish` reports it
        };
        events.entry(n.app_id.clone()).or_default().push(Published {
            name: n.event.clone(),
            channels: vec![n.channel.clone()],
            // The literal was checked as a JSON string when the notification was accepted.
            data: serde_json::from_str(&payload.data_literal).unwrap_or_default(),
        });
    }
    let mut out = BTreeMap::new();
    for (app, events) in events {
        let recorded = record(store, &ctx.dir, &app, &events, now)
            .await
            .map(drop)
            .map_err(|e| format!("cannot record its webhook deliveries: {e}"));
        out.insert(app, recorded);
    }
    out
}

/// Encodes `n`'s frame and sends it to the shard that publishes its channel (always the same
/// one, so a channel's notifications stay in order through the FIFO rings). Every check comes
/// before the send: an error sends nothing.
fn publish(ctx: &Notifier, n: &Notification) -> Result<(), String> {
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
    use crate::store::contract::block_on;
    use crate::store::{NewNotification, NotificationStatus, SqliteStore};

    fn due_now(id: &str) -> NewNotification {
        NewNotification {
            id: id.to_owned(),
            app_id: "app".to_owned(),
            client_id: None,
            channel: "private-notification.1".to_owned(),
            user_id: Some("1".to_owned()),
            event: "reminder".to_owned(),
            payload: b"{}".to_vec(),
            due_at_ms: 0,
        }
    }

    /// The loop's prune under an injected clock: finished rows live exactly the retention
    /// period past their last change; pending ones are never removed.
    #[test]
    fn retention_removes_delivered_and_failed_rows_after_the_period() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let finished_at = 1_800_000_000_000;
        block_on(async {
            let batch: Vec<_> = (0..3).map(|i| due_now(&format!("n{i}"))).collect();
            store.insert_notifications(&batch, 0).await.unwrap();
            let failed = NotificationOutcome::Failed {
                reason: "gone".into(),
            };
            let outcomes = [
                ("n0".to_owned(), NotificationOutcome::Delivered),
                ("n1".to_owned(), failed),
            ];
            store
                .settle_notifications(&outcomes, finished_at)
                .await
                .unwrap();
            prune(&store, finished_at + RETENTION_MS, RETENTION_MS).await;
            for id in ["n0", "n1", "n2"] {
                assert!(store.get_notification("app", id).await.is_ok(), "{id} kept");
            }
            prune(&store, finished_at + RETENTION_MS + 1, RETENTION_MS).await;
            for id in ["n0", "n1"] {
                assert!(
                    store.get_notification("app", id).await.is_err(),
                    "{id} removed"
                );
            }
            let pending = store.get_notification("app", "n2").await.unwrap();
            assert_eq!(pending.status, NotificationStatus::Pending);
        });
    }

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
