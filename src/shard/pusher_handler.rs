//! What a shard does with each Pusher message a client sends: ping, subscribe, unsubscribe.
//!
//! Parsing and signature checks are `proto::pusher`; this file only applies the outcome to the
//! shard's state and queues the answer. Every error is answered on the offending connection
//! alone.

use std::rc::Rc;

use bytes::Bytes;

use super::outbox::Outbox;
use super::session::text_frame;
use super::state::Shard;
use crate::proto::pusher::{self, ChannelKind, ClientMessage, PusherError};

/// Handles one text message from connection `key`.
pub fn handle_text(shard: &Rc<Shard>, key: usize, outbox: &Rc<Outbox>, text: &Bytes) {
    // The decoder guarantees text messages are valid UTF-8.
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let reply = |json: &str| {
        outbox.send(text_frame(json));
    };
    match pusher::parse_client_message(text) {
        Ok(ClientMessage::Ping) => reply(pusher::pong()),
        Ok(ClientMessage::Pong) => {}
        Ok(ClientMessage::Subscribe {
            channel,
            auth,
            channel_data,
        }) => match subscribe(
            shard,
            key,
            &channel,
            auth.as_deref(),
            channel_data.as_deref(),
        ) {
            Ok(()) => reply(&pusher::subscription_succeeded(&channel, None)),
            Err(SubscribeError::Auth(why)) => reply(&pusher::subscription_error(
                &channel,
                "AuthError",
                &why,
                401,
            )),
            Err(SubscribeError::Protocol(err)) => reply(&pusher::error_for(&err)),
        },
        Ok(ClientMessage::Unsubscribe { channel }) => unsubscribe(shard, key, &channel),
        Ok(ClientMessage::ClientEvent { .. }) | Ok(ClientMessage::Signin { .. }) => {
            reply(&pusher::error(
                None,
                "client events and sign-in are not enabled on this server",
            ))
        }
        Ok(ClientMessage::Unknown { event }) => {
            reply(&pusher::error(None, &format!("unknown event '{event}'")))
        }
        Err(err) => reply(&pusher::error_for(&err)),
    }
}

enum SubscribeError {
    /// Answered with `pusher:subscription_error` on the channel, so pusher-js shows it there.
    Auth(String),
    /// Answered with `pusher:error`.
    Protocol(PusherError),
}

fn subscribe(
    shard: &Shard,
    key: usize,
    channel: &str,
    auth: Option<&str>,
    channel_data: Option<&str>,
) -> Result<(), SubscribeError> {
    let kind = pusher::channel_kind(channel).map_err(SubscribeError::Protocol)?;
    let mut conns = shard.conns.borrow_mut();
    let Some(conn) = conns.get_mut(key) else {
        return Ok(());
    };
    let app = &shard.config.apps[conn.app];
    if kind == ChannelKind::Presence {
        return Err(SubscribeError::Auth(
            "presence channels are not supported yet".to_owned(),
        ));
    }
    if kind.requires_auth() {
        let socket_id = conn.socket_id.to_string();
        let Some(auth) = auth else {
            return Err(SubscribeError::Auth(format!(
                "channel '{channel}' requires an auth signature"
            )));
        };
        if !pusher::verify_channel_auth(
            &app.key,
            &app.secret,
            &socket_id,
            channel,
            channel_data,
            auth,
        ) {
            return Err(SubscribeError::Auth(format!(
                "invalid signature for channel '{channel}': expected HMAC-SHA256 of \
                 '{socket_id}:{channel}' with the app secret"
            )));
        }
    }
    if conn.channels.iter().any(|c| &**c == channel) {
        return Ok(());
    }
    let name = shard
        .channels
        .borrow_mut()
        .subscribe(conn.app, channel, key);
    conn.channels.push(name);
    Ok(())
}

fn unsubscribe(shard: &Shard, key: usize, channel: &str) {
    let mut conns = shard.conns.borrow_mut();
    let Some(conn) = conns.get_mut(key) else {
        return;
    };
    if let Some(pos) = conn.channels.iter().position(|c| &**c == channel) {
        conn.channels.swap_remove(pos);
        shard
            .channels
            .borrow_mut()
            .unsubscribe(conn.app, channel, key);
    }
}
