//! Online status of signed-in users and their watchers, kept by each user's owning core.
//!
//! A user is online while at least one of their signed-in connections is open, on any core.
//! The owner of the user (a stable hash of the id, like channels) counts those connections and
//! knows which connections watch the user; when the count leaves or reaches zero it tells every
//! watcher with `pusher_internal:watchlist_events`. A new watcher hears at once whether the
//! user is online. The counting itself is `model::users`; this file carries it between cores.

use std::sync::Arc;

use super::owner::{owner_of, send};
use crate::shard::state::{ConnRef, CoreMsg, Shard};

/// A signed-in connection of `user` opened (`online`) or closed (`!online`): tells the user's
/// owner, and the owners of every user on its watchlist.
pub fn signed(
    shard: &Shard,
    app: usize,
    user: &Arc<str>,
    conn: ConnRef,
    watchlist: &[Arc<str>],
    online: bool,
) {
    let owner = owner_of(user, shard.config.workers);
    send(
        shard,
        owner,
        CoreMsg::UserStatus {
            app,
            user_id: user.clone(),
            online,
        },
    );
    for watched in watchlist {
        let owner = owner_of(watched, shard.config.workers);
        send(
            shard,
            owner,
            CoreMsg::Watch {
                app,
                user_id: watched.clone(),
                watcher: conn,
                on: online,
            },
        );
    }
}

/// Owner side of `UserStatus`.
pub fn on_status(shard: &Shard, app: usize, user: Arc<str>, online: bool) {
    let flipped = match online {
        true => shard.users.borrow_mut().online(app, &user),
        false => shard.users.borrow_mut().offline(app, &user),
    };
    if !flipped {
        return;
    }
    if shard.config.scaling.is_some() {
        // The cluster decides whether the user's status flipped (see `cluster`).
        super::cluster::status(shard, app, user, online);
    } else {
        tell_watchers(shard, app, user, online);
    }
}

/// Owner side of `Watch`.
pub fn on_watch(shard: &Shard, app: usize, user: Arc<str>, watcher: ConnRef, on: bool) {
    if !on {
        shard.users.borrow_mut().unwatch(app, &user, watcher);
        return;
    }
    if shard.users.borrow_mut().watch(app, &user, watcher) {
        notify(shard, watcher, true, user);
    } else if shard.config.scaling.is_some() {
        super::cluster::is_online(shard, app, user, watcher);
    }
}

/// Tells this core's watchers of `user` that it came online or went offline (those that were
/// last told otherwise).
pub fn tell_watchers(shard: &Shard, app: usize, user: Arc<str>, online: bool) {
    let watchers = shard.users.borrow_mut().tell(app, &user, online);
    for watcher in watchers {
        notify(shard, watcher, online, user.clone());
    }
}

/// The cluster's answer to a new watcher's question: tells it `user` is online unless a
/// cluster-wide flip told it already.
pub fn answered(shard: &Shard, app: usize, user: Arc<str>, watcher: ConnRef) {
    if shard.users.borrow_mut().tell_one(app, &user, watcher, true) {
        notify(shard, watcher, true, user);
    }
}

/// Tells `watcher` that `user` came online or went offline.
pub fn notify(shard: &Shard, watcher: ConnRef, online: bool, user: Arc<str>) {
    send(
        shard,
        watcher.core,
        CoreMsg::WatchlistEvent {
            conn: watcher,
            online,
            user_id: user,
        },
    );
}
