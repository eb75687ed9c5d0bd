//! Subscribing and unsubscribing a connection, including the presence and cache round trips
//! to the channel's owner core.
//!
//! Public and private channels are joined at once. A presence join is pending until the owner
//! answers (it alone knows whether the user is new and whether the channel is full); the
//! answer adds the connection to the local index and sends `subscription_succeeded` with the
//! member list. A cache channel asks its owner for the last event after subscribing.

use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;

use crate::proto::pusher::text_frame;
use crate::proto::pusher::{self, ChannelKind, PusherError};
use crate::shard::cores::interest;
use crate::shard::cores::owner::send_to_owner;
use crate::shard::state::{ConnRef, CoreMsg, Shard, Subscription};

/// What the client is told right away.
pub enum Subscribed {
    /// Subscribed: send `subscription_succeeded` now (and ask for the cached event when
    /// `cache` is true).
    Now {
        /// The channel is a cache channel.
        cache: bool,
    },
    /// A presence join went to the owner; its answer completes the subscription.
    Pending,
}

/// Why a subscription was refused.
pub enum Refused {
    /// Answered with `pusher:subscription_error` on the channel (pusher-js shows it there).
    Channel {
        /// `type` in the error data, e.g. `AuthError`.
        kind: &'static str,
        /// What went wrong and what to change.
        error: String,
        /// HTTP-like status in the error data.
        status: u16,
    },
    /// Answered with `pusher:error`.
    Protocol(PusherError),
}

fn auth_error(error: String) -> Refused {
    Refused::Channel {
        kind: "AuthError",
        error,
        status: 401,
    }
}

/// Subscribes connection `key` to `channel`.
pub fn subscribe(
    shard: &Shard,
    key: usize,
    channel: &str,
    auth: Option<&str>,
    channel_data: Option<&str>,
) -> Result<Subscribed, Refused> {
    let mut conns = shard.conns.borrow_mut();
    let Some(conn) = conns.get_mut(key) else {
        return Ok(Subscribed::Pending);
    };
    if let Some(existing) = conn.subs.iter().find(|s| &*s.channel == channel) {
        return Ok(if existing.pending {
            Subscribed::Pending
        } else {
            Subscribed::Now { cache: false }
        });
    }
    let app = &shard.config.apps[conn.app];
    if conn.subs.len() >= app.max_subscriptions_per_connection {
        return Err(Refused::Channel {
            kind: "LimitReached",
            error: format!(
                "this connection already has {} subscriptions (max_subscriptions_per_connection)",
                conn.subs.len()
            ),
            status: 429,
        });
    }
    let socket_id = conn.socket_id.to_string();
    let kind = if let Some(user) = pusher::server_to_user_id(channel) {
        // pusher-js joins `#server-to-user-{id}` after sign-in; only that user may.
        if conn.user_id.as_deref() != Some(user) {
            return Err(auth_error(format!(
                "channel '{channel}' is only for the signed-in user '{user}'"
            )));
        }
        ChannelKind::Public
    } else {
        pusher::channel_kind(channel).map_err(Refused::Protocol)?
    };
    if kind.requires_auth() {
        let data = if kind == ChannelKind::Presence {
            Some(channel_data.ok_or_else(|| {
                auth_error(format!(
                    "presence channel '{channel}' needs channel_data with a user_id"
                ))
            })?)
        } else {
            None
        };
        let auth = auth
            .ok_or_else(|| auth_error(format!("channel '{channel}' requires an auth signature")))?;
        if !pusher::verify_channel_auth(&app.key, &app.secret, &socket_id, channel, data, auth) {
            let signed = match data {
                Some(_) => format!("'{socket_id}:{channel}:<channel_data>'"),
                None => format!("'{socket_id}:{channel}'"),
            };
            return Err(auth_error(format!(
                "invalid signature for channel '{channel}': expected key:HMAC-SHA256 of {signed} with the app secret"
            )));
        }
    }
    let cache = pusher::is_cache_channel(channel);
    if kind == ChannelKind::Presence {
        let member = pusher::parse_channel_data(channel_data.unwrap_or_default()).map_err(|e| {
            Refused::Channel {
                kind: "AuthError",
                error: e.to_string(),
                status: 400,
            }
        })?;
        crate::proto::pusher::auth_binding::check_presence(
            conn.auth_user.as_deref(),
            &member.user_id,
        )
        .map_err(|error| Refused::Channel {
            kind: "AuthError",
            error,
            status: 403,
        })?;
        let user_id: Arc<str> = Arc::from(member.user_id);
        conn.subs.push(Subscription {
            channel: Rc::from(channel),
            member: Some(user_id.clone()),
            pending: true,
        });
        let conn_ref = shard.conn_ref(key, conn.socket_id);
        let app = conn.app;
        drop(conns);
        let channel: Arc<str> = Arc::from(channel);
        send_to_owner(
            shard,
            &channel.clone(),
            CoreMsg::PresenceJoin {
                app,
                channel,
                user_id,
                user_info: member.user_info.map(Arc::from),
                conn: conn_ref,
            },
        );
        return Ok(Subscribed::Pending);
    }
    let name = interest::add_local(shard, conn.app, channel, key);
    conn.subs.push(Subscription {
        channel: name,
        member: None,
        pending: false,
    });
    Ok(Subscribed::Now { cache })
}

/// Unsubscribes connection `key` from `channel` (no answer is sent, as in Pusher).
pub fn unsubscribe(shard: &Shard, key: usize, channel: &str) {
    let sub = {
        let mut conns = shard.conns.borrow_mut();
        let Some(conn) = conns.get_mut(key) else {
            return;
        };
        let Some(pos) = conn.subs.iter().position(|s| &*s.channel == channel) else {
            return;
        };
        (conn.app, conn.subs.swap_remove(pos))
    };
    forget(shard, sub.0, key, &sub.1);
}

/// Undoes one subscription of a connection that unsubscribed or went away.
pub fn forget(shard: &Shard, app: usize, key: usize, sub: &Subscription) {
    if sub.pending {
        // The owner's answer will find the subscription gone and undo the join itself.
        return;
    }
    interest::remove_local(shard, app, &sub.channel, key);
    if let Some(user_id) = &sub.member {
        send_to_owner(
            shard,
            &sub.channel,
            CoreMsg::PresenceLeave {
                app,
                channel: Arc::from(&*sub.channel),
                user_id: user_id.clone(),
            },
        );
    }
}

/// Asks the owner of a cache channel for its last event, for connection `key`.
pub fn fetch_cached(shard: &Shard, key: usize, channel: &str) {
    let (app, conn) = {
        let conns = shard.conns.borrow();
        let Some(conn) = conns.get(key) else { return };
        (conn.app, shard.conn_ref(key, conn.socket_id))
    };
    let channel: Arc<str> = Arc::from(channel);
    send_to_owner(
        shard,
        &channel.clone(),
        CoreMsg::CacheFetch { app, channel, conn },
    );
}

/// The owner's answer to a presence join of one of this core's connections.
pub struct JoinAnswer<'a> {
    /// App index.
    pub app: usize,
    /// Presence channel.
    pub channel: &'a str,
    /// The member id the join carried.
    pub user_id: Arc<str>,
    /// The joining connection.
    pub conn: ConnRef,
    /// Presence data, or why the join was refused.
    pub result: Result<String, String>,
}

/// Completes (or undoes) a presence join when the owner answers.
pub fn on_presence_joined(shard: &Shard, answer: JoinAnswer<'_>) {
    let JoinAnswer {
        app,
        channel,
        user_id,
        conn,
        result,
    } = answer;
    let mut conns = shard.conns.borrow_mut();
    let pending = conns
        .get_mut(conn.key)
        .filter(|c| c.socket_id == conn.socket_id)
        .and_then(|c| {
            let pos = c
                .subs
                .iter()
                .position(|s| &*s.channel == channel && s.pending)?;
            Some((c, pos))
        });
    let Some((c, pos)) = pending else {
        drop(conns);
        // The connection left or unsubscribed while the join was in flight: take it back.
        if result.is_ok() {
            leave(shard, app, channel, user_id);
        }
        return;
    };
    match result {
        Ok(presence) => {
            let name = interest::add_local(shard, app, channel, conn.key);
            c.subs[pos].channel = name;
            c.subs[pos].pending = false;
            c.outbox.send(text_frame(&pusher::subscription_succeeded(
                channel,
                Some(&presence),
            )));
            drop(conns);
            if pusher::is_cache_channel(channel) {
                fetch_cached(shard, conn.key, channel);
            }
        }
        Err(reason) => {
            c.subs.swap_remove(pos);
            c.outbox.send(text_frame(&pusher::subscription_error(
                channel,
                "LimitReached",
                &reason,
                403,
            )));
        }
    }
}

fn leave(shard: &Shard, app: usize, channel: &str, user_id: Arc<str>) {
    send_to_owner(
        shard,
        channel,
        CoreMsg::PresenceLeave {
            app,
            channel: Arc::from(channel),
            user_id,
        },
    );
}

/// The owner answered a cache fetch: send the cached event, or `pusher:cache_miss`, if the
/// connection is still subscribed.
pub fn on_cache_fetched(shard: &Shard, channel: &str, conn: ConnRef, frame: Option<Bytes>) {
    shard.with_live_conn(conn, |c| {
        if !c.subs.iter().any(|s| &*s.channel == channel && !s.pending) {
            return;
        }
        match frame {
            Some(frame) => c.outbox.send(frame),
            None => c.outbox.send(text_frame(&pusher::cache_miss(channel))),
        };
    });
}
