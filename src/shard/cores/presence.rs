//! Presence channels across cores: the owner core's side of a join or leave (membership,
//! `member_added` / `member_removed` to every core) and the joining core's side of the
//! owner's answer (handed to the connection's session).
//!
//! Membership itself is `model::presence`; this file only moves its outcomes between cores.

use std::sync::Arc;

use super::fanout::publish_everywhere;
use super::owner::send;
use super::{cluster, occupancy};
use crate::proto::pusher::session::{unclaimed_presence_answer, Effect, Input};
use crate::proto::pusher::{self, text_frame};
use crate::shard::io::effects;
use crate::shard::model::presence::Join;
use crate::shard::state::{ConnRef, CoreMsg, Shard};
use crate::webhook::body::PusherEvent;

/// Owner side of [`CoreMsg::PresenceJoin`]: counts the member, announces a new one to every
/// core and answers the joining core with the member list or the refusal.
pub fn on_join(shard: &Shard, msg: CoreMsg) {
    let CoreMsg::PresenceJoin {
        app,
        channel,
        user_id,
        user_info,
        conn,
    } = msg
    else {
        return;
    };
    let limit = shard.config.apps[app].max_presence_members;
    let info = user_info.clone();
    let outcome = shard
        .presence
        .borrow_mut()
        .join(app, &channel, &user_id, user_info, limit);
    let new_here = outcome == Join::NewMember;
    if outcome != Join::Full && shard.config.scaling.is_some() {
        // The cluster decides whether the user is new and who the members are.
        cluster::join(shard, app, channel, user_id, info, conn, new_here);
        return;
    }
    if new_here {
        announce_added(shard, app, &channel, &user_id, info.as_deref(), conn, false);
    }
    let result = match outcome {
        Join::Full => Err(format!(
            "presence channel '{channel}' is full: it already has {limit} members (max_presence_members)"
        )),
        _ => Ok(presence_data(shard, app, &channel)),
    };
    answer_join(shard, app, channel, user_id, conn, result);
}

/// `member_added` to every core (and, when `forward`, to the other nodes) but the joining
/// connection, and its webhook.
pub fn announce_added(
    shard: &Shard,
    app: usize,
    channel: &str,
    user_id: &str,
    info: Option<&str>,
    conn: ConnRef,
    forward: bool,
) {
    let added = pusher::member_added(channel, user_id, info);
    let except = Some(conn.socket_id);
    publish_everywhere(shard, app, channel, text_frame(&added), except);
    if forward {
        cluster::forward(shard, app, channel, text_frame(&added), except);
    }
    let (channel, user_id) = (channel.to_string(), user_id.to_string());
    occupancy::emit(shard, app, PusherEvent::MemberAdded { channel, user_id });
}

/// Answers the joining core with the presence data or the refusal.
pub fn answer_join(
    shard: &Shard,
    app: usize,
    channel: Arc<str>,
    user_id: Arc<str>,
    conn: ConnRef,
    result: Result<String, String>,
) {
    let answer = CoreMsg::PresenceJoined {
        app,
        channel,
        user_id,
        conn,
        result,
    };
    send(shard, conn.core, answer);
}

/// Joining side of [`CoreMsg::PresenceJoined`]: the connection's session completes or undoes
/// the subscription; a connection gone meanwhile has its join taken back.
pub fn on_joined(
    shard: &Shard,
    app: usize,
    channel: &str,
    user_id: Arc<str>,
    conn: ConnRef,
    result: Result<String, String>,
) {
    let input = Input::PresenceAnswer {
        channel,
        user_id: user_id.clone(),
        result: result.as_deref().map_err(String::as_str),
    };
    if effects::feed_live(shard, conn, input) {
        return;
    }
    let unclaimed = unclaimed_presence_answer(channel, user_id, result.is_ok());
    if let Some(Effect::Owner { channel, request }) = unclaimed {
        effects::ask_owner(shard, app, conn, &channel, request);
    }
}

/// Owner side of [`CoreMsg::PresenceLeave`]: the user's last connection leaving is announced.
pub fn on_leave(shard: &Shard, app: usize, channel: &str, user_id: &str) {
    let last = shard.presence.borrow_mut().leave(app, channel, user_id);
    if !last {
        return;
    }
    match shard.config.scaling.is_some() {
        // The user's last connection on this node: the cluster says whether it was the last.
        true => cluster::leave(shard, app, channel, user_id),
        false => announce_removed(shard, app, channel, user_id, false),
    }
}

/// `member_removed` to every core (and, when `forward`, to the other nodes), and its webhook.
pub fn announce_removed(shard: &Shard, app: usize, channel: &str, user_id: &str, forward: bool) {
    let removed = text_frame(&pusher::member_removed(channel, user_id));
    publish_everywhere(shard, app, channel, removed.clone(), None);
    if forward {
        cluster::forward(shard, app, channel, removed, None);
    }
    let (channel, user_id) = (channel.to_owned(), user_id.to_owned());
    occupancy::emit(shard, app, PusherEvent::MemberRemoved { channel, user_id });
}

/// The presence data of this node's own members of `channel`.
pub fn presence_data(shard: &Shard, app: usize, channel: &str) -> String {
    let members = shard.presence.borrow().members(app, channel);
    pusher::presence_data(members.iter().map(|(id, info)| (&**id, info.as_deref())))
}
