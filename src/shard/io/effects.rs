//! Carrying out what a connection's Pusher session decides.
//!
//! The shell feeds a session an input with the shard's clock ([`feed`]) and then performs each
//! effect in order: queue a frame, report or close with a `PusherError`, add or remove the
//! connection in the channel index, publish a client event, message a channel's owner core,
//! announce a sign-in. No Pusher rule is decided here; that is `proto::pusher::session`.
//! Effects run after the connection table's borrow is released, because publishing and
//! catching up walk that table again.

use std::rc::Rc;
use std::sync::Arc;

use super::outbox::Outbox;
use crate::proto::pusher::session::{Effect, Input, OwnerRequest};
use crate::proto::pusher::{close_frame_for, error_for, text_frame, PusherError, SocketId};
use crate::shard::cores::fanout::catch_up;
use crate::shard::cores::owner::send_to_owner;
use crate::shard::cores::relay::publish_event;
use crate::shard::cores::{collections, interest, occupancy, watchlist};
use crate::shard::state::{Conn, ConnRef, CoreMsg, Shard};
use crate::webhook::body::PusherEvent;

/// The connection effects apply to.
struct Target {
    key: usize,
    app: usize,
    socket_id: SocketId,
    outbox: Rc<Outbox>,
}

impl Target {
    fn of(key: usize, conn: &Conn) -> Self {
        Target {
            key,
            app: conn.app,
            socket_id: conn.session.socket_id(),
            outbox: conn.outbox.clone(),
        }
    }
}

/// Feeds `input` to the session of connection `key` and carries out its effects; false when
/// the connection is not open.
pub fn feed(shard: &Shard, key: usize, input: Input<'_>) -> bool {
    with_session(shard, key, |conn, effects| {
        conn.session.handle(input, shard.now(), effects)
    })
    .is_some()
}

/// Like [`feed`], for a connection named in a reply from another core (its slab key may have
/// been reused since, so the socket id must match).
pub fn feed_live(shard: &Shard, conn: ConnRef, input: Input<'_>) -> bool {
    shard.with_live_conn(conn, |_| ()).is_some() && feed(shard, conn.key, input)
}

/// Feeds every open connection of `app` the input `make` builds.
pub fn feed_app<'a>(shard: &Shard, app: usize, make: impl Fn() -> Input<'a>) {
    for key in keys(shard, |c| c.app == app) {
        feed(shard, key, make());
    }
}

/// The keys of the open connections `keep` selects (so each can be fed without holding the
/// connection table).
pub fn keys(shard: &Shard, keep: impl Fn(&Conn) -> bool) -> Vec<usize> {
    let conns = shard.conns.borrow();
    conns
        .iter()
        .filter(|(_, c)| keep(c))
        .map(|(k, _)| k)
        .collect()
}

/// Counts one WebSocket message of connection `key` against its rate; false when it must be
/// dropped.
pub fn admit_message(shard: &Shard, key: usize) -> bool {
    let admitted = with_session(shard, key, |conn, effects| {
        conn.session.admit_message(shard.now(), effects)
    });
    admitted.unwrap_or(false)
}

/// Feeds the last input to a connection already taken out of the connection table.
pub fn run(shard: &Shard, key: usize, conn: &mut Conn, input: Input<'_>) {
    let mut effects = shard.effects.take();
    conn.session.handle(input, shard.now(), &mut effects);
    apply(shard, &Target::of(key, conn), &mut effects);
    shard.effects.set(effects);
}

/// Runs `step` on connection `key` with the shard's effects buffer, then the effects.
fn with_session<R>(
    shard: &Shard,
    key: usize,
    step: impl FnOnce(&mut Conn, &mut Vec<Effect>) -> R,
) -> Option<R> {
    let mut effects = shard.effects.take();
    let done = {
        let mut conns = shard.conns.borrow_mut();
        conns
            .get_mut(key)
            .map(|conn| (step(conn, &mut effects), Target::of(key, conn)))
    };
    let result = done.map(|(result, target)| {
        apply(shard, &target, &mut effects);
        result
    });
    effects.clear();
    shard.effects.set(effects);
    result
}

fn apply(shard: &Shard, t: &Target, effects: &mut Vec<Effect>) {
    for effect in effects.drain(..) {
        match effect {
            Effect::Send(frame) => {
                t.outbox.send(frame);
            }
            Effect::Error(err) => {
                shard.stats().error(err.code());
                t.outbox.send(text_frame(&error_for(&err)));
            }
            Effect::Close(err) => refuse(shard, &t.outbox, &err),
            Effect::CatchUp => catch_up(shard),
            Effect::Join(channel) => {
                interest::add_local(shard, t.app, &channel, t.key);
                collections::joined(shard, t.app, &channel, t.key, true);
            }
            Effect::Leave(channel) => {
                interest::remove_local(shard, t.app, &channel, t.key);
                collections::joined(shard, t.app, &channel, t.key, false);
            }
            Effect::Publish { channel, frame } => {
                publish_event(shard, t.app, &channel, frame, Some(t.socket_id))
            }
            Effect::ClientEventSent {
                channel,
                event,
                data,
                user_id,
            } => {
                let event = PusherEvent::ClientEvent {
                    channel: channel.to_string(),
                    event,
                    data,
                    socket_id: t.socket_id.to_string(),
                    user_id: user_id.map(|u| u.to_string()),
                };
                occupancy::emit(shard, t.app, event);
            }
            Effect::Owner { channel, request } => {
                let me = shard.conn_ref(t.key, t.socket_id);
                ask_owner(shard, t.app, me, &channel, request);
            }
            Effect::SignedIn {
                user,
                watchlist,
                online,
            } => {
                let me = shard.conn_ref(t.key, t.socket_id);
                watchlist::signed(shard, t.app, &user, me, &watchlist, online);
            }
        }
    }
}

/// Sends a session's request to the owner core of `channel`.
pub fn ask_owner(shard: &Shard, app: usize, conn: ConnRef, channel: &str, request: OwnerRequest) {
    let name: Arc<str> = Arc::from(channel);
    let msg = match request {
        OwnerRequest::PresenceJoin { user_id, user_info } => CoreMsg::PresenceJoin {
            app,
            channel: name,
            user_id,
            user_info,
            conn,
        },
        OwnerRequest::PresenceLeave { user_id } => CoreMsg::PresenceLeave {
            app,
            channel: name,
            user_id,
        },
        OwnerRequest::CacheFetch => CoreMsg::CacheFetch {
            app,
            channel: name,
            conn,
        },
    };
    send_to_owner(shard, channel, msg);
}

/// Sends `pusher:error` and closes with the error's code, as Pusher does.
pub fn refuse(shard: &Shard, outbox: &Rc<Outbox>, err: &PusherError) {
    outbox.send(text_frame(&error_for(err)));
    shard.stats().error(err.code());
    outbox.close_with(Some(close_frame_for(err)));
}
