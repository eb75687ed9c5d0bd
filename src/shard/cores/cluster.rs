//! A shard's side of the cluster state (scaling on): presence joins and last leaves, user
//! status changes and subscription counts go to the control core, which applies them in Redis
//! (`control::cluster`); outcomes come back here as [`ClusterDone`]. Commands from other nodes
//! (terminate a user, a user's cluster-wide status) arrive here as relayed events.
//!
//! The outcome decides what goes out: `member_added` only for a user new to the whole cluster,
//! `member_removed` only when the user's last node let go, each published here and forwarded
//! to the other nodes by this node alone, so every client sees it once. The joining connection
//! gets the cluster's member list. The watchlist works the same way: the node that flipped a
//! user's cluster-wide status tells its watchers and the other nodes. Without an answer from
//! Redis the node falls back to what it knows itself and tells its own clients only.

use std::sync::Arc;

use bytes::Bytes;

use super::presence::{announce_added, announce_removed, answer_join, presence_data};
use super::{control, owner, watchlist};
use crate::control::{
    Answer, ClusterCounts, ClusterDone, ClusterOp, Command, ControlMsg, Relayed, Share,
};
use crate::proto::pusher::{self, SocketId};
use crate::shard::state::{ChannelFilter, ConnRef, CoreMsg, Shard};

/// Hands a presence join to the control core (the outcome arrives as [`on_done`]).
pub fn join(
    shard: &Shard,
    app: usize,
    channel: Arc<str>,
    user_id: Arc<str>,
    info: Option<Arc<str>>,
    conn: ConnRef,
    new_here: bool,
) {
    let op = ClusterOp::Join {
        from: shard.id,
        app,
        channel,
        user_id,
        info,
        conn,
        new_here,
    };
    hand_over(shard, op);
}

/// Hands the last leave of a user on this node to the control core.
pub fn leave(shard: &Shard, app: usize, channel: &str, user_id: &str) {
    let op = ClusterOp::Leave {
        from: shard.id,
        app,
        channel: channel.into(),
        user_id: user_id.into(),
    };
    hand_over(shard, op);
}

/// Hands a change or a share to the control core's cluster task.
fn hand_over(shard: &Shard, op: ClusterOp) {
    control::tell(shard, ControlMsg::Cluster(Box::new(op)));
}

/// Sends a protocol event this core published (a member event) to the other nodes.
pub fn forward(shard: &Shard, app: usize, channel: &str, frame: Bytes, except: Option<SocketId>) {
    let relayed = Relayed {
        app,
        channel: channel.to_owned(),
        frame,
        except,
        internal: true,
    };
    control::tell(shard, ControlMsg::Forward(Box::new(relayed)));
}

/// Acts on the cluster's outcome of a join or a leave.
pub fn on_done(shard: &Shard, done: ClusterDone) {
    match done {
        ClusterDone::Joined {
            app,
            channel,
            user_id,
            info,
            conn,
            new_here,
            cluster,
        } => {
            let forward = cluster.is_some();
            let (added, data) = match cluster {
                Some((added, members)) => {
                    let list = members.iter().map(|(u, i)| (u.as_str(), i.as_deref()));
                    (added, pusher::presence_data(list))
                }
                None => (new_here, presence_data(shard, app, &channel)),
            };
            if added {
                announce_added(
                    shard,
                    app,
                    &channel,
                    &user_id,
                    info.as_deref(),
                    conn,
                    forward,
                );
            }
            answer_join(shard, app, channel, user_id, conn, Ok(data));
        }
        ClusterDone::Snapshot => {
            let share = Box::new(share(shard));
            let op = ClusterOp::Snapshot {
                from: shard.id,
                share,
            };
            hand_over(shard, op);
        }
        ClusterDone::Status {
            app,
            user,
            online,
            flipped,
        } => on_status(shard, app, user, online, flipped),
        ClusterDone::IsOnline {
            app,
            user,
            watcher,
            online,
        } => {
            if online == Some(true) {
                watchlist::answered(shard, app, user, watcher);
            }
        }
        ClusterDone::Left {
            app,
            channel,
            user_id,
            removed,
        } => match removed {
            Some(true) => announce_removed(shard, app, &channel, &user_id, true),
            Some(false) => {}
            None => announce_removed(shard, app, &channel, &user_id, false),
        },
        ClusterDone::CacheFetched {
            app,
            channel,
            conn,
            found,
        } => super::cluster_cache::on_fetched(shard, app, channel, conn, found),
    }
}

/// Hands a change of this node's subscriptions of `channel` to the control core (scaling on;
/// nothing otherwise).
pub fn count(shard: &Shard, app: usize, channel: &str, delta: i64) {
    if shard.config.scaling.is_none() {
        return;
    }
    let op = ClusterOp::Count {
        from: shard.id,
        app,
        channel: channel.into(),
        delta,
    };
    hand_over(shard, op);
}

/// The cluster's counts of the channels `filter` selects; `None` when the control core or
/// Redis did not answer.
pub async fn query(
    shard: &Shard,
    app: usize,
    filter: ChannelFilter,
    with_members: bool,
) -> Option<ClusterCounts> {
    let answer = control::ask_with(shard, |from, id| {
        let op = ClusterOp::Query {
            from,
            id,
            app,
            filter,
            with_members,
        };
        ControlMsg::Cluster(Box::new(op))
    })
    .await?;
    match answer {
        Ok(Answer::ClusterCounts(counts)) => counts.map(|c| *c),
        _ => None,
    }
}

/// Closes every connection of `user_id` in `app` on every core and, with scaling on, asks the
/// other nodes to do the same.
pub fn terminate_everywhere(shard: &Shard, app: usize, user_id: &str) {
    terminate_here(shard, app, user_id);
    if shard.config.scaling.is_some() {
        let relayed = Command::Terminate(user_id).relayed(app);
        control::tell(shard, ControlMsg::Forward(Box::new(relayed)));
    }
}

fn terminate_here(shard: &Shard, app: usize, user_id: &str) {
    let user_id: Arc<str> = Arc::from(user_id);
    owner::broadcast(shard, || CoreMsg::TerminateUser {
        app,
        user_id: user_id.clone(),
    });
}

/// Runs another node's command carried as an event; false when `event` is a plain event.
pub fn on_remote_command(shard: &Shard, event: &Relayed) -> bool {
    match Command::parse(&event.channel) {
        None => false,
        Some(Command::Terminate(user_id)) => {
            terminate_here(shard, event.app, user_id);
            true
        }
        Some(Command::Status(user_id, online)) => {
            let msg = CoreMsg::ClusterStatus {
                app: event.app,
                user_id: user_id.into(),
                online,
            };
            owner::send(shard, owner::owner_of(user_id, shard.config.workers), msg);
            true
        }
    }
}

/// Hands a user's first connection on this node (`online`) or last one closing to the
/// control core; the outcome arrives as [`on_done`].
pub fn status(shard: &Shard, app: usize, user: Arc<str>, online: bool) {
    let op = ClusterOp::Status {
        from: shard.id,
        app,
        user,
        online,
    };
    hand_over(shard, op);
}

/// Asks the control core whether `user` is online on another node, for a new watcher.
pub fn is_online(shard: &Shard, app: usize, user: Arc<str>, watcher: ConnRef) {
    let op = ClusterOp::IsOnline {
        from: shard.id,
        app,
        user,
        watcher,
    };
    hand_over(shard, op);
}

/// A status outcome: the node that flipped the user's cluster-wide status tells its own
/// watchers and the other nodes; without Redis, its own watchers only.
fn on_status(shard: &Shard, app: usize, user: Arc<str>, online: bool, flipped: Option<bool>) {
    if flipped == Some(false) {
        return;
    }
    if flipped.is_some() {
        let relayed = Command::Status(&user, online).relayed(app);
        control::tell(shard, ControlMsg::Forward(Box::new(relayed)));
    }
    watchlist::tell_watchers(shard, app, user, online);
}

/// This shard's part of the node's state: its subscription counts, the members of the
/// presence channels it owns, the signed-in users it owns.
fn share(shard: &Shard) -> Share {
    let mut share = Share::default();
    let (channels, presence, users) = (
        shard.channels.borrow(),
        shard.presence.borrow(),
        shard.users.borrow(),
    );
    for app in 0..shard.config.apps.len() {
        for (channel, n) in channels.channels(app) {
            share.counts.push((app, Arc::from(&**channel), n));
        }
        for (channel, _) in presence.channels(app) {
            for (user, info) in presence.members(app, channel) {
                share.members.push((app, channel.clone(), user, info));
            }
        }
        share
            .users
            .extend(users.online_users(app).map(|u| (app, u)));
    }
    share
}
