//! What a core does with each message it receives from another core (or from itself).
//!
//! Owner-side work (presence membership, the event cache, REST question answers) and
//! subscriber-side completions (join answers, cached events) meet here; each arm is a call
//! into the module that owns that concept.

use std::time::Instant;

use std::sync::Arc;

use bytes::Bytes;

use super::fanout::deliver_local;
use super::gather::{self, Reply};
use super::owner::send;
use super::{collections, presence, watchlist};
use crate::proto::pusher::session::Input;
use crate::shard::io::effects;
use crate::shard::state::{ConnRef, CoreMsg, Shard};
use crate::webhook::body::PusherEvent;

/// Handles one message addressed to this core.
pub fn handle(shard: &Shard, msg: CoreMsg) {
    match msg {
        CoreMsg::Publish {
            app,
            channel,
            frame,
            except,
            published,
        } => {
            // A core-local copy: every subscriber's queue entry bumps the frame's refcount, and
            // that count must live in this core's cache, not bounce with the publishing core.
            let frame = bytes::Bytes::copy_from_slice(&frame);
            deliver_local(shard, app, &channel, &frame, except, published);
        }
        CoreMsg::Interest {
            app,
            channel,
            core,
            on,
        } => super::occupancy::apply_interest(shard, app, channel, core, on),
        CoreMsg::SubscriptionCount {
            app,
            channel,
            core,
            count,
        } => super::subscription_count::apply(shard, app, channel, core, count),
        msg @ CoreMsg::PresenceJoin { .. } => presence::on_join(shard, msg),
        CoreMsg::PresenceJoined {
            app,
            channel,
            user_id,
            conn,
            result,
        } => presence::on_joined(shard, app, &channel, user_id, conn, result),
        CoreMsg::PresenceLeave {
            app,
            channel,
            user_id,
        } => presence::on_leave(shard, app, &channel, &user_id),
        CoreMsg::CacheStore {
            app,
            channel,
            frame,
        } => shard
            .cache
            .borrow_mut()
            .store(app, channel, frame, Instant::now()),
        CoreMsg::CacheFetch { app, channel, conn } => cache_fetch(shard, app, channel, conn),
        CoreMsg::CacheFetched {
            channel,
            conn,
            frame,
        } => feed(
            shard,
            conn,
            Input::CacheAnswer {
                channel: &channel,
                frame,
            },
        ),
        CoreMsg::Ask { from, id, query } => {
            let part = Reply::Query(gather::answer(shard, &query));
            send(shard, from, CoreMsg::Answer { id, part });
        }
        CoreMsg::Answer { id, part } => gather::on_answer(shard, id, part),
        CoreMsg::AdmitIp { from, id, group } => {
            let verdict = shard.ip_window.borrow_mut().admit(group, Instant::now());
            let part = Reply::Admit(verdict);
            send(shard, from, CoreMsg::Answer { id, part });
        }
        CoreMsg::Register { from, id, reg } => collections::on_register(shard, from, id, &reg),
        CoreMsg::Route {
            app,
            core,
            announcement,
        } => collections::on_route(shard, app, core, &announcement),
        CoreMsg::Records {
            app,
            changes,
            except,
            published,
            routes,
        } => collections::on_records(shard, app, &changes, except, published, routes.as_deref()),
        CoreMsg::TerminateUser { app, user_id } => {
            effects::feed_app(shard, app, || Input::Terminate { user: &user_id })
        }
        CoreMsg::UserStatus {
            app,
            user_id,
            online,
        } => watchlist::on_status(shard, app, user_id, online),
        CoreMsg::ClusterStatus {
            app,
            user_id,
            online,
        } => watchlist::tell_watchers(shard, app, user_id, online),
        CoreMsg::Watch {
            app,
            user_id,
            watcher,
            on,
        } => watchlist::on_watch(shard, app, user_id, watcher, on),
        CoreMsg::WatchlistEvent {
            conn,
            online,
            user_id,
        } => feed(
            shard,
            conn,
            Input::Watchlist {
                user: &user_id,
                online,
            },
        ),
    }
}

/// Hands an answer from another core to the connection's session, if it is still open.
fn feed(shard: &Shard, conn: ConnRef, input: Input<'_>) {
    effects::feed_live(shard, conn, input);
}

/// Owner side of a cache fetch: the cached frame (or a miss) back to the subscriber's core.
/// With scaling on, a channel this node has no event of is asked of the cluster first.
fn cache_fetch(shard: &Shard, app: usize, channel: Arc<str>, conn: ConnRef) {
    let frame = shard
        .cache
        .borrow_mut()
        .fetch(app, &channel, Instant::now());
    if frame.is_none() && shard.config.scaling.is_some() {
        return super::cluster_cache::fetch(shard, app, channel, conn);
    }
    answer_cache(shard, app, channel, conn, frame);
}

/// Sends the subscriber's core the cached frame, or a miss (with its webhook).
pub(super) fn answer_cache(
    shard: &Shard,
    app: usize,
    channel: Arc<str>,
    conn: ConnRef,
    frame: Option<Bytes>,
) {
    if frame.is_none() {
        let channel = channel.to_string();
        super::occupancy::emit(shard, app, PusherEvent::CacheMiss { channel });
    }
    let answer = CoreMsg::CacheFetched {
        channel,
        conn,
        frame,
    };
    send(shard, conn.core, answer);
}
