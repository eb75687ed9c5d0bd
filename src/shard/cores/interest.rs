//! Which other cores have subscribers of a channel, so a publish goes only where it is needed.
//!
//! Every core announces to every other core when one of its channels gains its first local
//! subscriber or loses its last (one ring message per transition, not per subscriber). Each
//! core keeps the resulting bitmask per channel and consults it, without asking anyone, when it
//! publishes. A REST publish first drains the rings (`catch_up`), so a subscription confirmed
//! to its client before the publish request was sent is always seen. The bitmasks themselves are
//! `model::interest`; this file announces and applies the transitions.

use std::rc::Rc;
use std::sync::Arc;

use super::owner::send;
use crate::shard::state::{CoreMsg, Shard};

/// Adds connection `key` to the local index, announcing a first subscriber to the other cores.
pub fn add_local(shard: &Shard, app: usize, channel: &Rc<str>, key: usize) {
    let first = shard.channels.borrow_mut().subscribe(app, channel, key);
    super::subscription_count::local_changed(shard, app, channel);
    super::cluster::count(shard, app, channel, 1);
    if first {
        announce(shard, app, channel, true);
        super::occupancy::local_changed(shard, app, channel, true);
    }
}

/// Removes connection `key` from the local index, announcing when it was the last subscriber.
pub fn remove_local(shard: &Shard, app: usize, channel: &str, key: usize) {
    let last = shard.channels.borrow_mut().unsubscribe(app, channel, key);
    super::subscription_count::local_changed(shard, app, channel);
    super::cluster::count(shard, app, channel, -1);
    if last {
        announce(shard, app, channel, false);
        super::occupancy::local_changed(shard, app, channel, false);
    }
}

fn announce(shard: &Shard, app: usize, channel: &str, on: bool) {
    let channel: Arc<str> = Arc::from(channel);
    for dst in (0..shard.config.workers).filter(|&d| d != shard.id) {
        send(
            shard,
            dst,
            CoreMsg::Interest {
                app,
                channel: channel.clone(),
                core: shard.id,
                on,
            },
        );
    }
}
