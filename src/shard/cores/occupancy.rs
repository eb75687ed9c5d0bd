//! Pusher channel webhooks decided once across cores: the channel's owner core alone says when
//! it became occupied or vacant cluster-wide, and hands the event to the control core.
//!
//! The owner already hears every other core's first-subscriber / last-subscriber announcement
//! (`interest`), and knows its own local subscribers, so "some core has a subscriber" is a fact
//! it can evaluate without asking anyone. It emits an event exactly when that fact flips, which
//! gives one `channel_occupied` and one `channel_vacated` per transition, whatever the number of
//! cores. Presence member events come from the presence owner (`presence`) through [`emit`].
//! Nothing is sent when the app has no receiver that wants the event, so apps without channel
//! webhooks cost nothing here.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::control;
use super::owner::owner_of;
use crate::shard::state::Shard;
use crate::webhook::body::{kind_bit, PusherEvent};

/// Whether any core (this one included) has subscribers of `channel`.
fn occupied(shard: &Shard, app: usize, channel: &str) -> bool {
    !shard.channels.borrow().subscribers(app, channel).is_empty()
        || shard.interest.borrow().cores(app, channel) != 0
}

/// Whether this core decides `channel`'s transitions: its owner, unless scaling is on (the
/// cluster's counts in Redis decide them then, see `control::cluster`).
fn is_owner(shard: &Shard, channel: &str) -> bool {
    shard.config.scaling.is_none() && owner_of(channel, shard.config.workers) == shard.id
}

/// After this core gained its first (`on`) or lost its last local subscriber of `channel`:
/// the owner reports the cluster-wide transition, if there is one.
pub fn local_changed(shard: &Shard, app: usize, channel: &str, on: bool) {
    if !is_owner(shard, channel) || shard.interest.borrow().cores(app, channel) != 0 {
        return;
    }
    let channel = channel.to_owned();
    emit(
        shard,
        app,
        if on {
            PusherEvent::ChannelOccupied { channel }
        } else {
            PusherEvent::ChannelVacated { channel }
        },
    );
}

/// Applies another core's announcement; the owner reports a cluster-wide transition.
pub fn apply_interest(shard: &Shard, app: usize, channel: Arc<str>, core: usize, on: bool) {
    let owner = is_owner(shard, &channel);
    let before = owner && occupied(shard, app, &channel);
    shard
        .interest
        .borrow_mut()
        .set(app, channel.clone(), core, on);
    if !owner {
        return;
    }
    let after = occupied(shard, app, &channel);
    let channel = channel.to_string();
    match (before, after) {
        (false, true) => emit(shard, app, PusherEvent::ChannelOccupied { channel }),
        (true, false) => emit(shard, app, PusherEvent::ChannelVacated { channel }),
        _ => {}
    }
}

/// Hands `event` to the control core when one of the app's configured receivers wants it, or
/// a pusher-format endpoint from the API takes its type (the control core matches the rest).
pub fn emit(shard: &Shard, app: usize, event: PusherEvent) {
    let hooks = &shard.config.apps[app].webhooks;
    let channel = event.channel();
    let kinds = || shard.shared.pusher_endpoint_kinds[app].load(Ordering::Acquire);
    let api = || kinds() & kind_bit(event.kind()) != 0;
    if hooks.iter().any(|h| h.wants(event.kind(), channel)) || api() {
        control::notify(shard, app, event);
    }
}
