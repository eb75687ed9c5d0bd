//! The `subscription_count` channel webhook, decided once across cores like occupancy: every
//! core reports its local subscriber count of a channel to the channel's owner whenever it
//! changes, and the owner, summing the last report of each core, emits one
//! `subscription_count` event per change of the cluster-wide total.
//!
//! A core's reports travel in order on its ring, so the owner's sum never goes backwards
//! within one core's history. Nothing is sent when the app has no receiver that could want the
//! event, so apps without channel webhooks cost no ring message per subscription.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::occupancy;
use super::owner::send_to_owner;
use crate::shard::state::{CoreMsg, Shard};
use crate::webhook::body::{kind_bit, PusherEvent};

/// Whether a receiver of `app` may want `subscription_count` events of `channel`: a configured
/// one, or a pusher-format endpoint, that lists it.
fn wanted(shard: &Shard, app: usize, channel: &str) -> bool {
    let hooks = &shard.config.apps[app].webhooks;
    hooks.iter().any(|h| h.wants("subscription_count", channel))
        || shard.shared.pusher_endpoint_kinds[app].load(Ordering::Acquire)
            & kind_bit("subscription_count")
            != 0
}

/// After this core's local subscribers of `channel` changed: reports the new local count to
/// the owner.
pub fn local_changed(shard: &Shard, app: usize, channel: &str) {
    if !wanted(shard, app, channel) {
        return;
    }
    let count = shard.channels.borrow().subscribers(app, channel).len() as u64;
    let msg = CoreMsg::SubscriptionCount {
        app,
        channel: Arc::from(channel),
        core: shard.id,
        count,
    };
    send_to_owner(shard, channel, msg);
}

/// On the owner: applies `core`'s report and emits the new total when it changed.
pub fn apply(shard: &Shard, app: usize, channel: Arc<str>, core: usize, count: u64) {
    let cores = shard.config.workers;
    let changed =
        shard
            .subscription_counts
            .borrow_mut()
            .set(app, channel.clone(), core, cores, count);
    if let Some(total) = changed {
        let event = PusherEvent::SubscriptionCount {
            channel: channel.to_string(),
            subscription_count: total,
        };
        occupancy::emit(shard, app, event);
    }
}
