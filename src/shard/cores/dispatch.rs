//! What a core does with each message it receives from another core (or from itself).
//!
//! Owner-side work (presence membership, the event cache, REST question answers) and
//! subscriber-side completions (join answers, cached events) meet here; each arm is a call
//! into the module that owns that concept.

use std::time::Instant;

use super::fanout::{deliver_local, publish_everywhere};
use super::gather::{self, Reply};
use super::owner::send;
use super::watchlist;
use crate::proto::pusher::session::{unclaimed_presence_answer, Effect, Input};
use crate::proto::pusher::{self, text_frame};
use crate::shard::io::effects;
use crate::shard::model::presence::Join;
use crate::shard::state::{CoreMsg, Shard};

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
        } => shard.interest.borrow_mut().set(app, channel, core, on),
        CoreMsg::PresenceJoin {
            app,
            channel,
            user_id,
            user_info,
            conn,
        } => {
            let limit = shard.config.apps[app].max_presence_members;
            let info = user_info.clone();
            let outcome = shard
                .presence
                .borrow_mut()
                .join(app, &channel, &user_id, user_info, limit);
            if outcome == Join::NewMember {
                let added = pusher::member_added(&channel, &user_id, info.as_deref());
                publish_everywhere(
                    shard,
                    app,
                    &channel,
                    text_frame(&added),
                    Some(conn.socket_id),
                );
            }
            let result = match outcome {
                Join::Full => Err(format!(
                    "presence channel '{channel}' is full: it already has {limit} members (max_presence_members)"
                )),
                _ => Ok(presence_data(shard, app, &channel)),
            };
            send(
                shard,
                conn.core,
                CoreMsg::PresenceJoined {
                    app,
                    channel,
                    user_id,
                    conn,
                    result,
                },
            );
        }
        CoreMsg::PresenceJoined {
            app,
            channel,
            user_id,
            conn,
            result,
        } => {
            let input = Input::PresenceAnswer {
                channel: &channel,
                user_id: user_id.clone(),
                result: result.as_deref().map_err(String::as_str),
            };
            if !effects::feed_live(shard, conn, input) {
                // The connection left while the join was in flight: its session cannot.
                let unclaimed = unclaimed_presence_answer(&channel, user_id, result.is_ok());
                if let Some(Effect::Owner { channel, request }) = unclaimed {
                    effects::ask_owner(shard, app, conn, &channel, request);
                }
            }
        }
        CoreMsg::PresenceLeave {
            app,
            channel,
            user_id,
        } => {
            let last = shard.presence.borrow_mut().leave(app, &channel, &user_id);
            if last {
                let removed = pusher::member_removed(&channel, &user_id);
                publish_everywhere(shard, app, &channel, text_frame(&removed), None);
            }
        }
        CoreMsg::CacheStore {
            app,
            channel,
            frame,
        } => shard
            .cache
            .borrow_mut()
            .store(app, channel, frame, Instant::now()),
        CoreMsg::CacheFetch { app, channel, conn } => {
            let frame = shard
                .cache
                .borrow_mut()
                .fetch(app, &channel, Instant::now());
            send(
                shard,
                conn.core,
                CoreMsg::CacheFetched {
                    channel,
                    conn,
                    frame,
                },
            );
        }
        CoreMsg::CacheFetched {
            channel,
            conn,
            frame,
        } => {
            let input = Input::CacheAnswer {
                channel: &channel,
                frame,
            };
            effects::feed_live(shard, conn, input);
        }
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
        CoreMsg::TerminateUser { app, user_id } => {
            effects::feed_app(shard, app, || Input::Terminate { user: &user_id })
        }
        CoreMsg::UserStatus {
            app,
            user_id,
            online,
        } => watchlist::on_status(shard, app, user_id, online),
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
        } => {
            let input = Input::Watchlist {
                user: &user_id,
                online,
            };
            effects::feed_live(shard, conn, input);
        }
    }
}

fn presence_data(shard: &Shard, app: usize, channel: &str) -> String {
    let members = shard.presence.borrow().members(app, channel);
    pusher::presence_data(members.iter().map(|(id, info)| (&**id, info.as_deref())))
}
