//! The delivery loop: claims due deliveries from the store, gates each one (breaker, rate
//! limit), POSTs it signed with Standard Webhooks headers, and records the outcome and the
//! next retry.
//!
//! Runs only on the control core, one task per attempt so a slow receiver holds nothing else
//! up. Each claim is a lease longer than the request timeout plus the longest wait for a
//! connection slot, so a delivery in flight is not claimed twice, and one whose process died
//! is claimed again after a restart with the same `webhook-id`. Should a lease still run out
//! (a stalled disk, a suspended process), the outcome is recorded under the claim's lease
//! token and dropped when a newer claim holds the delivery. After a restart on SQLite the
//! previous run's leases are void: the first read takes them over at once (on a shared Redis
//! store they may be other nodes', so they run out first).
//!
//! The store is read ahead of due time, in chunks: every [`READ_EVERY_MS`] (or sooner when
//! [`super::due`] rings: an event recorded, a retry scheduled) it claims what falls due in the
//! next [`LOOKAHEAD_MS`] onto the timing wheel of `crate::scheduler`, and each delivery starts
//! when the wheel says it is due, so delays hold to the millisecond without polling the store.
//! It never runs on a shard. Requests go out through [`super::outgoing`] (kept-alive
//! connections, bounded concurrency, https), and outcomes are written in group commits by
//! [`super::settle`]: an attempt task queues its ended lease and is done.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::directory::Directory;
pub(super) use super::outgoing::{outcome_of, post_to};
use super::outgoing::{Answer, SendError, MAX_SLOT_WAIT};
use super::pusher_endpoints::{standard_headers, DeliveryContext};
use super::settle::{self, Settler};
use super::signing_keys::SigningKeys;
use super::{due, now_ms};
use crate::config::WebhooksConfig;
use crate::ratelimit::Cidr;
use crate::scheduler::Wheel;
use crate::store::{
    AnyStore, AttemptRecord, Delivery, DeliveryStatus, DeliveryStore, Endpoint, EndpointStore,
    Finished,
};
use crate::webhook::breaker::BreakerConfig;
use crate::webhook::engine::{EndpointGate, Gate};
use crate::webhook::retry::{NextState, RetryPolicy};

/// How far ahead of due time deliveries are claimed onto the wheel.
const LOOKAHEAD_MS: i64 = 2_000;
/// Longest time between two reads of the store; a delivery made due sooner rings the bell.
const READ_EVERY_MS: i64 = 1_000;
/// What a lease covers beyond the request timeout and the slot wait: recording the outcome.
const LEASE_MARGIN: Duration = Duration::from_secs(30);
/// How long a delivery that found no free connection slot waits before it is due again.
const BUSY_WAIT_MS: i64 = 1_000;
/// Most deliveries claimed per store call.
const CHUNK: usize = 256;

/// What every attempt task shares.
pub struct Deliverer {
    /// The store.
    pub store: Rc<AnyStore>,
    /// Endpoints by id.
    pub dir: Rc<RefCell<Directory>>,
    /// `webhooks.allowed_subnets`.
    pub allowed: Vec<Cidr>,
    /// The breaker's threshold and pause (`webhooks.breaker_pause_ms`).
    breaker: BreakerConfig,
    /// How long a claim holds a delivery.
    lease_ms: i64,
    /// Attempts started and not yet recorded, and their bound (`webhooks.max_connections`):
    /// no more is claimed than can be sent, so claimed deliveries do not queue for slots.
    in_flight: Cell<usize>,
    max_in_flight: usize,
    /// The last read stopped for want of room, so more may be due: attempts ending ring the
    /// bell once half the room is free again.
    backlog: Cell<bool>,
    /// Per endpoint, shared by its attempts in flight; borrowed only between awaits.
    gates: RefCell<HashMap<String, Rc<RefCell<EndpointGate>>>>,
    /// App credentials (pusher-format signing) and metrics; standard-only without it.
    context: Option<DeliveryContext>,
    /// Where ended leases are queued for the next group commit.
    settler: Rc<Settler>,
    /// The standard-format endpoints' decoded keys.
    keys: SigningKeys,
}

impl Deliverer {
    /// A loop over `store` and `dir` with the `[webhooks]` settings.
    pub fn new(store: Rc<AnyStore>, dir: Rc<RefCell<Directory>>, cfg: &WebhooksConfig) -> Self {
        let lease = cfg.timeout + MAX_SLOT_WAIT + LEASE_MARGIN;
        Deliverer {
            store,
            dir,
            allowed: cfg.allowed_subnets.clone(),
            breaker: BreakerConfig {
                pause_ms: i64::try_from(cfg.breaker_pause.as_millis()).unwrap_or(i64::MAX),
                ..BreakerConfig::DEFAULT
            },
            lease_ms: i64::try_from(lease.as_millis()).unwrap_or(i64::MAX),
            in_flight: Cell::new(0),
            max_in_flight: cfg.max_connections,
            backlog: Cell::new(false),
            gates: RefCell::new(HashMap::new()),
            context: None,
            settler: Rc::new(Settler::default()),
            keys: SigningKeys::default(),
        }
    }

    /// Adds the apps' credentials and the metrics counters.
    pub fn with_context(self, context: DeliveryContext) -> Self {
        Deliverer {
            context: Some(context),
            ..self
        }
    }
}

/// Claims and starts due deliveries until `stop` says so, with the flusher of their outcomes.
pub async fn run(ctx: Rc<Deliverer>, stop: impl Fn() -> bool + Clone + 'static) {
    monoio::spawn(settle::run(
        ctx.store.clone(),
        ctx.settler.clone(),
        stop.clone(),
    ));
    let mut wheel = Wheel::new(wheel_ms(now_ms()));
    let mut due_now = Vec::new();
    // A store of this process alone holds only the previous run's leases at start; a shared
    // one (Redis) also holds other nodes' live leases, which must run out first.
    let mut restarted = matches!(*ctx.store, AnyStore::Sqlite(_));
    let mut next_read = i64::MIN;
    while !stop() {
        next_read = next_read.min(due::take());
        if now_ms() >= next_read {
            read_ahead(&ctx, &mut wheel, restarted).await;
            restarted = false;
            next_read = now_ms() + READ_EVERY_MS;
        }
        wheel.advance(wheel_ms(now_ms()), &mut due_now);
        for (_, delivery) in due_now.drain(..) {
            ctx.in_flight.set(ctx.in_flight.get() + 1);
            let ctx = ctx.clone();
            monoio::spawn(async move {
                attempt(ctx.clone(), delivery).await;
                ctx.in_flight.set(ctx.in_flight.get() - 1);
                if ctx.backlog.get() && ctx.in_flight.get() <= ctx.max_in_flight / 2 {
                    ctx.backlog.set(false);
                    due::ring(now_ms());
                }
            });
        }
        let wake_at = wheel.next_deadline().map_or(next_read, |at| {
            next_read.min(i64::try_from(at).unwrap_or(i64::MAX))
        });
        let wait = u64::try_from(wake_at.saturating_sub(now_ms())).unwrap_or(0);
        due::sleep(Duration::from_millis(wait)).await;
    }
    hand_back(&ctx.store, &mut wheel).await;
    HANDED_BACK.with(|h| h.set(true));
}

thread_local! {
    /// Set once the delivery loop of this control core stopped and handed its claims back.
    static HANDED_BACK: Cell<bool> = const { Cell::new(false) };
}

/// Whether the delivery loop has stopped and handed back the claims it had not started.
pub(super) fn handed_back() -> bool {
    HANDED_BACK.with(Cell::get)
}

/// At stop: ends the leases of the claims waiting on the wheel, not started, without using an
/// attempt (each due again at its own time, in its own status), so that with a shared store
/// another node sends them at once rather than after the lease. Attempts in flight keep
/// theirs: their request may already have gone out.
async fn hand_back(store: &AnyStore, wheel: &mut Wheel<Delivery>) {
    let mut claimed = Vec::new();
    wheel.advance(u64::MAX, &mut claimed);
    if claimed.is_empty() {
        return;
    }
    let batch: Vec<Finished> = claimed
        .into_iter()
        .map(|(_, d)| {
            let at_ms = d.next_attempt_at_ms;
            let next = match d.status {
                DeliveryStatus::Waiting => NextState::Wait { until_ms: at_ms },
                _ => NextState::Retry { at_ms },
            };
            Finished {
                id: d.id,
                lease: d.lease,
                attempt: None,
                next,
            }
        })
        .collect();
    match store.finish_attempts(&batch, now_ms()).await {
        Ok(n) => tracing::info!(
            handed_back = n,
            "stopping: claimed webhook deliveries handed back"
        ),
        Err(e) => {
            tracing::warn!(error = %e, deliveries = batch.len(), "stopping: claimed webhook deliveries not handed back; they wait out their lease")
        }
    }
}

/// Unix ms as the wheel's time.
fn wheel_ms(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0)
}

/// Claims, in chunks, what falls due within the lookahead onto the wheel, while attempts in
/// flight and on the wheel leave room. On the first read after a restart of a store of its
/// own, the previous run's leases count as expired: no one else holds them.
async fn read_ahead(ctx: &Deliverer, wheel: &mut Wheel<Delivery>, restarted: bool) {
    loop {
        let held = ctx.in_flight.get() + wheel.len();
        let room = ctx.max_in_flight.saturating_sub(held);
        let limit = room.min(CHUNK);
        if limit == 0 {
            ctx.backlog.set(true);
            return;
        }
        let now = now_ms();
        let expired_by = if restarted { i64::MAX } else { now };
        let lease_until = now + ctx.lease_ms + LOOKAHEAD_MS;
        let claimed = match ctx
            .store
            .claim_due_deliveries(now + LOOKAHEAD_MS, expired_by, lease_until, limit)
            .await
        {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::error!(error = %e, "cannot claim due deliveries");
                return;
            }
        };
        let full = claimed.len() == limit;
        ctx.backlog.set(full && limit == room);
        for d in claimed {
            // Within the lookahead, far inside the wheel's horizon.
            if let Err(far) = wheel.insert(wheel_ms(d.next_attempt_at_ms), d) {
                tracing::warn!(delivery = %far.item.id, "due beyond the wheel; its lease will lapse");
            }
        }
        if !full {
            return;
        }
    }
}

/// One gated attempt of `d`, recorded in the store.
async fn attempt(ctx: Rc<Deliverer>, d: Delivery) {
    let now = now_ms();
    let endpoint = super::shared_endpoints::endpoint(&ctx.store, &ctx.dir, &d.endpoint_id).await;
    let Some(ep) = endpoint.filter(|ep| ep.is_active) else {
        // Removed or disabled: the delivery ends without an attempt.
        finish(&ctx, &d, None, NextState::Failed);
        return;
    };
    let gate = match gate_of(&ctx, &ep, now).await {
        Ok(g) => g,
        Err(next) => return finish(&ctx, &d, None, next),
    };
    let cfg = ctx.breaker;
    let admitted = gate.borrow_mut().admit(&cfg, now);
    if let Gate::Wait { until_ms } = admitted {
        return finish(&ctx, &d, None, NextState::Wait { until_ms });
    }
    let started = Instant::now();
    let sent = post(&ctx, &ep, &d, now).await;
    if let Err(SendError::Busy) = sent {
        // Nothing was sent: the delivery comes back later without using an attempt.
        if let Gate::Send { probe: true } = admitted {
            // The probe did not go: the next due delivery probes instead.
            gate.borrow_mut().breaker.on_neutral();
        }
        let next = NextState::Wait {
            until_ms: now_ms() + BUSY_WAIT_MS,
        };
        return finish(&ctx, &d, None, next);
    }
    let outcome = outcome_of(&sent);
    if let Some(c) = &ctx.context {
        let latency_ms = started.elapsed().as_millis().min(u64::MAX as u128) as u64;
        c.shared.webhooks.attempt(&outcome, latency_ms);
    }
    let policy = RetryPolicy {
        max_retries: ep.max_retries,
        delays: ep.retry_delays.clone(),
    };
    let number = d.attempt + 1;
    let (settled, breaker_changed) = {
        let mut g = gate.borrow_mut();
        let before = g.breaker;
        let settled = g.settle(&cfg, &policy, number, &outcome, now_ms());
        (settled, g.breaker != before)
    };
    let record = AttemptRecord {
        attempt: number,
        status_code: sent.as_ref().ok().map(|a| a.status),
        latency_ms: started.elapsed().as_millis().min(u32::MAX as u128) as u32,
        error: settled.error.clone(),
        at_ms: now,
    };
    tracing::debug!(delivery = %d.id, endpoint = %ep.id, attempt = number, next = ?settled.next, "webhook attempt");
    finish(&ctx, &d, Some(record), settled.next.clone());
    // Persisted only when this attempt changed it: a healthy endpoint costs no second write.
    if breaker_changed {
        let breaker = gate.borrow().breaker;
        if let Err(e) = ctx.store.put_breaker(&ep.id, &breaker).await {
            tracing::error!(endpoint = %ep.id, error = %e, "cannot persist the breaker");
        }
    }
    if settled.disable_endpoint {
        disable(&ctx, &ep).await;
    }
}

/// The endpoint's gate, created from its persisted breaker on first use. A store failure
/// postpones the delivery by one poll without using an attempt.
async fn gate_of(
    ctx: &Deliverer,
    ep: &Endpoint,
    now: i64,
) -> Result<Rc<RefCell<EndpointGate>>, NextState> {
    if let Some(gate) = ctx.gates.borrow().get(&ep.id) {
        return Ok(gate.clone());
    }
    let mut breaker = ctx.store.get_breaker(&ep.id).await.map_err(|e| {
        tracing::error!(endpoint = %ep.id, error = %e, "cannot read the breaker");
        NextState::Wait {
            until_ms: now + READ_EVERY_MS,
        }
    })?;
    breaker.after_restart();
    let fresh = Rc::new(RefCell::new(EndpointGate::new(
        breaker,
        ep.rate_limit_per_s,
        now,
    )));
    // Another attempt may have created it while the breaker was read: keep the first.
    let mut gates = ctx.gates.borrow_mut();
    Ok(gates.entry(ep.id.clone()).or_insert(fresh).clone())
}

/// Ends the lease of `d`: queued for the next group commit of outcomes.
fn finish(ctx: &Deliverer, d: &Delivery, attempt: Option<AttemptRecord>, next: NextState) {
    ctx.settler.push(Finished {
        id: d.id.clone(),
        lease: d.lease,
        attempt,
        next,
    });
}

async fn disable(ctx: &Deliverer, ep: &Endpoint) {
    let patch = crate::webhook::endpoint::EndpointPatch {
        is_active: Some(false),
        ..Default::default()
    };
    match ctx
        .store
        .update_endpoint(&ep.app_id, &ep.id, &patch, now_ms())
        .await
    {
        Ok(_) => match Directory::load(ctx.store.as_ref()).await {
            Ok(dir) => *ctx.dir.borrow_mut() = dir,
            Err(e) => tracing::error!(error = %e, "cannot reload the endpoints"),
        },
        Err(e) => tracing::error!(endpoint = %ep.id, error = %e, "cannot disable an endpoint"),
    }
    tracing::warn!(endpoint = %ep.id, "receiver answered 410: endpoint disabled");
}

/// POSTs the delivery, signed for the endpoint's format.
async fn post(ctx: &Deliverer, ep: &Endpoint, d: &Delivery, now: i64) -> Result<Answer, SendError> {
    let headers = match &ctx.context {
        Some(c) => c.headers(ep, d, now, &ctx.keys),
        None => standard_headers(ep, d, now, &ctx.keys),
    };
    let headers = headers.map_err(SendError::Connect)?;
    post_to(&ep.url, &ctx.allowed, &headers, &d.body).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract::{block_on, new_endpoint};
    use crate::store::{NewDelivery, SqliteStore};

    #[test]
    fn claims_not_started_are_handed_back_for_the_next_claim() {
        let tmp = tempfile::tempdir().unwrap();
        let store = AnyStore::Sqlite(SqliteStore::open(tmp.path()).unwrap());
        block_on(async {
            store
                .create_endpoint(new_endpoint("a", "std", 1))
                .await
                .unwrap();
            let new = |id: &str, due: i64| NewDelivery {
                id: id.to_owned(),
                endpoint_id: "std".to_owned(),
                event: "e".to_owned(),
                body: b"{}".to_vec(),
                created_at_ms: 0,
                next_attempt_at_ms: due,
            };
            store
                .insert_deliveries(&[new("d1", 100), new("d2", 200)])
                .await
                .unwrap();
            let now = now_ms();
            let mut wheel = Wheel::new(wheel_ms(now));
            for d in store
                .claim_due_deliveries(now, now, i64::MAX, 10)
                .await
                .unwrap()
            {
                wheel.insert(wheel_ms(now), d).map_err(|_| "far").unwrap();
            }
            let leased = store
                .claim_due_deliveries(now, now, i64::MAX, 10)
                .await
                .unwrap();
            assert!(leased.is_empty(), "the leases hold");
            hand_back(&store, &mut wheel).await;
            assert!(wheel.is_empty());
            let again = store
                .claim_due_deliveries(now, now, i64::MAX, 10)
                .await
                .unwrap();
            let seen: Vec<(&str, i64, u32, DeliveryStatus)> = again
                .iter()
                .map(|d| (d.id.as_str(), d.next_attempt_at_ms, d.attempt, d.status))
                .collect();
            assert_eq!(
                seen,
                [
                    ("d1", 100, 0, DeliveryStatus::Pending),
                    ("d2", 200, 0, DeliveryStatus::Pending)
                ]
            );
        });
    }
}
