//! Pusher channel webhooks for pusher-format endpoints, durable: those registered through the
//! API with `"format": "pusher"` and the config-file receivers that `config_hooks` stored.
//!
//! The events the shards decide (after `pusher_hooks` has held back the leaves) are matched
//! against the app's pusher-format endpoints (their `events` name Pusher event types or `*`,
//! their tenant limits the channels), batched per endpoint within the 50 ms window, and each
//! batch is recorded as one delivery whose body is `{time_ms, events}`. From there the durable
//! engine of `deliver` sends it: signed with `X-Pusher-Key` / `X-Pusher-Signature` (the app's
//! key and secret, see [`DeliveryContext::headers`]), retried on the endpoint's schedule (by
//! default Pusher's short one: 5 attempts within 5 minutes), logged, and resumed after a
//! restart. The same context counts every attempt for `/metrics`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use super::config_hooks::is_config_id;
use super::directory::Directory;
use super::now_ms;
use super::signing_keys::SigningKeys;
use crate::config::AppConfig;
use crate::shard::Shared;
use crate::store::{AnyStore, Delivery, DeliveryStore, Endpoint, NewDelivery};
use crate::webhook::batcher::Batcher;
use crate::webhook::body::{pusher_body, PusherEvent};
use crate::webhook::endpoint::Format;
use crate::webhook::request::{attempt_headers, Header, Signer};
use crate::webhook::signing::new_message_id;

/// What the delivery loop needs beyond the store: the apps' credentials, which sign
/// pusher-format deliveries, and the counters of `/metrics`.
pub struct DeliveryContext {
    /// App id → (key, secret).
    keys: HashMap<String, (String, String)>,
    /// Where attempts are counted.
    pub shared: Arc<Shared>,
}

impl DeliveryContext {
    /// The context of `apps`, counting into `shared`.
    pub fn new(apps: &[AppConfig], shared: Arc<Shared>) -> Self {
        let keys = apps
            .iter()
            .map(|a| (a.id.clone(), (a.key.clone(), a.secret.clone())))
            .collect();
        DeliveryContext { keys, shared }
    }

    /// Every header of one attempt of `d` to `ep` at `now_ms`, signed as its format wants;
    /// the reason when it cannot be signed.
    pub(super) fn headers<'a>(
        &self,
        ep: &'a Endpoint,
        d: &Delivery,
        now_ms: i64,
        keys: &SigningKeys,
    ) -> Result<Vec<Header<'a>>, String> {
        match ep.format {
            Format::Standard => standard_headers(ep, d, now_ms, keys),
            Format::Pusher => {
                let (app_key, app_secret) = self
                    .keys
                    .get(&ep.app_id)
                    .ok_or_else(|| format!("app '{}' is no longer configured", ep.app_id))?;
                let signer = Signer::Pusher {
                    app_key,
                    app_secret,
                };
                Ok(attempt_headers(signer, &d.id, now_ms, &d.body, &ep.headers))
            }
        }
    }
}

/// The Standard Webhooks headers of one attempt of `d` to `ep`.
pub(super) fn standard_headers<'a>(
    ep: &'a Endpoint,
    d: &Delivery,
    now_ms: i64,
    keys: &SigningKeys,
) -> Result<Vec<Header<'a>>, String> {
    let key = keys.key(ep)?;
    let signer = Signer::Standard { key: &key };
    Ok(attempt_headers(signer, &d.id, now_ms, &d.body, &ep.headers))
}

/// The open batches of the pusher-format endpoints.
pub struct PusherEndpoints {
    store: Rc<AnyStore>,
    dir: Rc<RefCell<Directory>>,
    /// App ids, in `Config::apps` order.
    apps: Vec<String>,
    /// Endpoint id → its open batch.
    batches: RefCell<HashMap<String, Batcher<PusherEvent>>>,
}

impl PusherEndpoints {
    /// Batches over `dir`'s endpoints, recorded in `store`.
    pub fn new(store: Rc<AnyStore>, dir: Rc<RefCell<Directory>>, apps: Vec<String>) -> Self {
        PusherEndpoints {
            store,
            dir,
            apps,
            batches: RefCell::new(HashMap::new()),
        }
    }
}

/// Adds `event` of app `app` to the batch of every API-created pusher-format endpoint that
/// wants it. The config-file ones are left to `pusher_hooks`, which applies their channel
/// filter and then calls [`batch_to`].
pub fn batch(hooks: &Rc<PusherEndpoints>, app: usize, event: &PusherEvent) {
    let Some(app_id) = hooks.apps.get(app) else {
        return;
    };
    let channels = [event.channel().to_owned()];
    let targets: Vec<String> = hooks
        .dir
        .borrow()
        .matching(app_id, event.kind(), &channels)
        .filter(|ep| ep.format == Format::Pusher && !is_config_id(&ep.id))
        .map(|ep| ep.id.clone())
        .collect();
    for id in targets {
        batch_to(hooks, id, event.clone());
    }
}

/// Adds `event` to the open batch of endpoint `id`, recording the batch when it is full or
/// its window closes.
pub fn batch_to(hooks: &Rc<PusherEndpoints>, id: String, event: PusherEvent) {
    let mut batches = hooks.batches.borrow_mut();
    let open = batches.entry(id.clone()).or_default();
    let opens = open.deadline().is_none();
    if let Some(full) = open.push(event, now_ms()) {
        monoio::spawn(record(hooks.clone(), id, full));
    } else if opens {
        monoio::spawn(flush_when_due(hooks.clone(), id));
    }
}

/// Records every open batch now, without waiting for its window (at stop); a window's task
/// that wakes later finds its batch empty.
pub async fn record_open(hooks: &Rc<PusherEndpoints>) {
    let open: Vec<(String, Vec<PusherEvent>)> = hooks
        .batches
        .borrow_mut()
        .iter_mut()
        .map(|(id, b)| (id.clone(), b.drain()))
        .filter(|(_, events)| !events.is_empty())
        .collect();
    for (id, events) in open {
        record(hooks.clone(), id, events).await;
    }
}

/// Records endpoint `id`'s batch once its window has closed.
async fn flush_when_due(hooks: Rc<PusherEndpoints>, id: String) {
    loop {
        let deadline = hooks.batches.borrow().get(&id).and_then(Batcher::deadline);
        let Some(deadline) = deadline else {
            return;
        };
        let now = now_ms();
        if now >= deadline {
            break;
        }
        monoio::time::sleep(Duration::from_millis((deadline - now) as u64)).await;
    }
    let due = hooks
        .batches
        .borrow_mut()
        .get_mut(&id)
        .and_then(|b| b.poll(now_ms()));
    if let Some(events) = due.filter(|e| !e.is_empty()) {
        record(hooks, id, events).await;
    }
}

/// Stores one batch as a delivery due now; the delivery loop sends it.
async fn record(hooks: Rc<PusherEndpoints>, endpoint_id: String, events: Vec<PusherEvent>) {
    let now = now_ms();
    let id = match new_message_id(now) {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(endpoint = %endpoint_id, error = %e, "no randomness for a delivery id");
            return;
        }
    };
    let mut kinds: Vec<&str> = events.iter().map(PusherEvent::kind).collect();
    kinds.dedup();
    let new = NewDelivery {
        id,
        endpoint_id,
        event: kinds.join(","),
        body: pusher_body(now, &events),
        created_at_ms: now,
        next_attempt_at_ms: now,
    };
    match hooks
        .store
        .insert_deliveries(std::slice::from_ref(&new))
        .await
    {
        Ok(()) => super::due::ring(now),
        Err(e) => {
            tracing::error!(endpoint = %new.endpoint_id, error = %e, events = events.len(), "cannot record a channel webhook")
        }
    }
}
