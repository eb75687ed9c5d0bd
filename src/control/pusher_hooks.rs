//! Pusher channel webhooks on the control core: events decided by the shards (one per
//! cluster-wide transition) are batched per app and receiver within a 50 ms window, then
//! recorded as deliveries of their endpoint rows (`config_hooks`, `pusher_endpoints`).
//!
//! As Pusher does, `channel_vacated` and `member_removed` wait [`LEAVE_DELAY`] before they are
//! batched, and are dropped together with the `channel_occupied` / `member_added` that undoes
//! them within that time, so a page reload is not reported as a leave and a join.
//!
//! From there the durable engine of `deliver` sends them: signed for Pusher, retried on
//! Pusher's short schedule, and resumed after a restart.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use super::config_hooks::config_endpoint_id;
use super::pusher_endpoints::{self, PusherEndpoints};
use crate::config::{AppConfig, PusherWebhookConfig};
use crate::webhook::body::PusherEvent;

/// How long a leave waits for the join that would undo it (Pusher's delay).
const LEAVE_DELAY: Duration = Duration::from_secs(3);

/// A leave waiting out [`LEAVE_DELAY`]: app, channel and, for a member, the user.
type LeaveKey = (usize, String, Option<String>);

/// One config-file receiver of one app, stored as endpoint `id` (see `config_hooks`).
struct Receiver {
    config: PusherWebhookConfig,
    id: String,
}

/// Every app's channel webhook receivers, in `Config::apps` order.
pub struct PusherHooks {
    /// Per app, its config-file receivers.
    apps: Vec<Vec<Receiver>>,
    /// Leaves waiting, each with the token of the task that will release it.
    leaves: RefCell<HashMap<LeaveKey, u64>>,
    next_token: Cell<u64>,
    /// The durable batches of every pusher-format endpoint.
    endpoints: Rc<PusherEndpoints>,
}

impl PusherHooks {
    /// The receivers configured for `apps`, whose batches go to `endpoints`.
    pub fn new(apps: &[AppConfig], endpoints: PusherEndpoints) -> Self {
        let apps = apps
            .iter()
            .map(|a| {
                let receiver = |config: &PusherWebhookConfig| Receiver {
                    id: config_endpoint_id(&a.id, config),
                    config: config.clone(),
                };
                a.webhooks.iter().map(receiver).collect()
            })
            .collect();
        PusherHooks {
            apps,
            leaves: RefCell::new(HashMap::new()),
            next_token: Cell::new(0),
            endpoints: Rc::new(endpoints),
        }
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

/// At stop: every held leave goes to its batches now rather than after [`LEAVE_DELAY`] (the
/// process would end first), and every open batch is recorded, so that with a shared store
/// the nodes that stay deliver them. A leave's task that wakes later finds nothing held.
pub async fn flush_at_stop(hooks: &Rc<PusherHooks>) {
    let held: Vec<LeaveKey> = hooks.leaves.borrow_mut().drain().map(|(k, _)| k).collect();
    for (app, channel, user) in held {
        let event = match user {
            Some(user_id) => PusherEvent::MemberRemoved { channel, user_id },
            None => PusherEvent::ChannelVacated { channel },
        };
        batch(hooks, app, event);
    }
    pusher_endpoints::record_open(&hooks.endpoints).await;
}

/// Adds `event` of app `app` to the batch of every receiver that wants it: the API's
/// pusher-format endpoints and the config-file receivers whose types and filter match.
fn batch(hooks: &Rc<PusherHooks>, app: usize, event: PusherEvent) {
    pusher_endpoints::batch(&hooks.endpoints, app, &event);
    let Some(receivers) = hooks.apps.get(app) else {
        return;
    };
    // Identical entries share one row, which gets the event once.
    let mut done: Vec<&str> = Vec::new();
    for receiver in receivers {
        if done.contains(&receiver.id.as_str())
            || !receiver.config.wants(event.kind(), event.channel())
        {
            continue;
        }
        done.push(&receiver.id);
        pusher_endpoints::batch_to(&hooks.endpoints, receiver.id.clone(), event.clone());
    }
}
