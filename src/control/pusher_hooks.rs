//! Pusher channel webhooks on the control core: events decided by the shards (one per
//! cluster-wide transition) are batched per app and receiver within a 50 ms window, then
//! POSTed as signed `{time_ms, events}` bodies, retried on Pusher's short schedule.
//!
//! As Pusher does, `channel_vacated` and `member_removed` wait [`LEAVE_DELAY`] before they are
//! batched, and are dropped together with the `channel_occupied` / `member_added` that undoes
//! them within that time, so a page reload is not reported as a leave and a join.
//!
//! Each batch is sent by its own task, so a slow receiver holds up nothing else. Retries are
//! kept in memory: these events describe live state that a restart resets anyway, unlike the
//! business deliveries of `deliver`, which are durable.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use super::deliver::{outcome_of, post_to};
use super::now_ms;
use super::pusher_endpoints::{self, PusherEndpoints};
use crate::config::{AppConfig, PusherWebhookConfig};
use crate::ratelimit::Cidr;
use crate::webhook::batcher::Batcher;
use crate::webhook::body::{pusher_body, PusherEvent};
use crate::webhook::endpoint::{PUSHER_MAX_RETRIES, PUSHER_RETRY_DELAYS};
use crate::webhook::request::{attempt_headers, Signer};
use crate::webhook::retry::{classify, NextState, RetryPolicy};

/// How long a leave waits for the join that would undo it (Pusher's delay).
const LEAVE_DELAY: Duration = Duration::from_secs(3);

/// A leave waiting out [`LEAVE_DELAY`]: app, channel and, for a member, the user.
type LeaveKey = (usize, String, Option<String>);

/// One receiver of one app, with its open batch.
struct Receiver {
    config: PusherWebhookConfig,
    batch: RefCell<Batcher<PusherEvent>>,
}

/// One app's credentials and receivers.
struct AppHooks {
    key: String,
    secret: String,
    receivers: Vec<Receiver>,
}

/// Every app's channel webhook receivers, in `Config::apps` order.
pub struct PusherHooks {
    apps: Vec<AppHooks>,
    allowed: Vec<Cidr>,
    /// Leaves waiting, each with the token of the task that will release it.
    leaves: RefCell<HashMap<LeaveKey, u64>>,
    next_token: Cell<u64>,
    /// The pusher-format endpoints of the API, once the store is open.
    endpoints: Option<Rc<PusherEndpoints>>,
}

impl PusherHooks {
    /// The receivers configured for `apps`, reaching targets under the SSRF guard.
    pub fn new(apps: &[AppConfig], allowed: Vec<Cidr>) -> Self {
        let apps = apps
            .iter()
            .map(|a| AppHooks {
                key: a.key.clone(),
                secret: a.secret.clone(),
                receivers: a
                    .webhooks
                    .iter()
                    .map(|config| Receiver {
                        config: config.clone(),
                        batch: RefCell::new(Batcher::default()),
                    })
                    .collect(),
            })
            .collect();
        PusherHooks {
            apps,
            allowed,
            leaves: RefCell::new(HashMap::new()),
            next_token: Cell::new(0),
            endpoints: None,
        }
    }

    /// Also hands every event to the API's pusher-format endpoints.
    pub fn attach(&mut self, endpoints: PusherEndpoints) {
        self.endpoints = Some(Rc::new(endpoints));
    }
}

/// Takes `event` of app `app`: a leave is held back, a join that undoes a held leave is
/// dropped with it, anything else is batched at once.
pub fn on_event(hooks: &Rc<PusherHooks>, app: usize, event: PusherEvent) {
    let (key, leaving) = match &event {
        PusherEvent::ChannelVacated { channel } => ((app, channel.clone(), None), true),
        PusherEvent::ChannelOccupied { channel } => ((app, channel.clone(), None), false),
        PusherEvent::MemberRemoved { channel, user_id } => {
            ((app, channel.clone(), Some(user_id.clone())), true)
        }
        PusherEvent::MemberAdded { channel, user_id } => {
            ((app, channel.clone(), Some(user_id.clone())), false)
        }
        _ => return batch(hooks, app, event),
    };
    if !leaving {
        if hooks.leaves.borrow_mut().remove(&key).is_none() {
            batch(hooks, app, event);
        }
        return;
    }
    let token = hooks.next_token.get();
    hooks.next_token.set(token + 1);
    hooks.leaves.borrow_mut().insert(key.clone(), token);
    let hooks = hooks.clone();
    monoio::spawn(async move {
        monoio::time::sleep(LEAVE_DELAY).await;
        let mut leaves = hooks.leaves.borrow_mut();
        if leaves.get(&key) == Some(&token) {
            leaves.remove(&key);
            drop(leaves);
            batch(&hooks, app, event);
        }
    });
}

/// Adds `event` of app `app` to the batch of every receiver that wants it.
fn batch(hooks: &Rc<PusherHooks>, app: usize, event: PusherEvent) {
    if let Some(endpoints) = &hooks.endpoints {
        pusher_endpoints::batch(endpoints, app, &event);
    }
    let Some(entry) = hooks.apps.get(app) else {
        return;
    };
    let now = now_ms();
    for (index, receiver) in entry.receivers.iter().enumerate() {
        if !receiver.config.wants(event.kind(), event.channel()) {
            continue;
        }
        let mut batch = receiver.batch.borrow_mut();
        let opens = batch.deadline().is_none();
        if let Some(full) = batch.push(event.clone(), now) {
            monoio::spawn(deliver(hooks.clone(), app, index, full));
        } else if opens {
            monoio::spawn(flush_when_due(hooks.clone(), app, index));
        }
    }
}

/// Sends the receiver's batch once its window has closed.
async fn flush_when_due(hooks: Rc<PusherHooks>, app: usize, index: usize) {
    let receiver = &hooks.apps[app].receivers[index];
    loop {
        let Some(deadline) = receiver.batch.borrow().deadline() else {
            return;
        };
        let now = now_ms();
        if now >= deadline {
            break;
        }
        monoio::time::sleep(Duration::from_millis((deadline - now) as u64)).await;
    }
    let due = receiver.batch.borrow_mut().poll(now_ms());
    if let Some(events) = due.filter(|e| !e.is_empty()) {
        deliver(hooks.clone(), app, index, events).await;
    }
}

/// POSTs one batch, retrying failures on the Pusher schedule.
async fn deliver(hooks: Rc<PusherHooks>, app: usize, index: usize, events: Vec<PusherEvent>) {
    let entry = &hooks.apps[app];
    let url = &entry.receivers[index].config.url;
    let body = pusher_body(now_ms(), &events);
    let signer = Signer::Pusher {
        app_key: &entry.key,
        app_secret: &entry.secret,
    };
    let headers = attempt_headers(signer, "", now_ms(), &body, &Default::default());
    let policy = RetryPolicy {
        max_retries: PUSHER_MAX_RETRIES,
        delays: PUSHER_RETRY_DELAYS.to_vec(),
    };
    for attempt in 1.. {
        let sent = post_to(url, &hooks.allowed, &headers, &body).await;
        let outcome = outcome_of(&sent);
        let now = now_ms();
        match policy.next(attempt, &classify(&outcome, now), now) {
            NextState::Delivered => return,
            NextState::Retry { at_ms } | NextState::Wait { until_ms: at_ms } => {
                tracing::warn!(app = %entry.key, %url, attempt, outcome = ?outcome, "channel webhook failed; retrying");
                monoio::time::sleep(Duration::from_millis((at_ms - now).max(0) as u64)).await;
            }
            NextState::Failed => {
                tracing::error!(app = %entry.key, %url, attempt, outcome = ?outcome, events = events.len(), "channel webhook dropped");
                return;
            }
        }
    }
}
