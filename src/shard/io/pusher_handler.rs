//! What a shard does with each Pusher message a client sends.
//!
//! Parsing and signature checks are `proto::pusher`; this file routes each message to the
//! module that applies it (subscribe, client events, users) and queues the direct answers.
//! Every error is answered on the offending connection alone.

use std::rc::Rc;

use bytes::Bytes;

use super::client_events::client_event;
use super::outbox::Outbox;
use super::subscribe::{self, Refused, Subscribed};
use super::users;
use crate::proto::pusher::text_frame;
use crate::proto::pusher::{self, ClientMessage, PusherError};
use crate::shard::cores::fanout::catch_up;
use crate::shard::state::Shard;

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
        }) => {
            let result = subscribe::subscribe(
                shard,
                key,
                &channel,
                auth.as_deref(),
                channel_data.as_deref(),
            );
            match result {
                Ok(Subscribed::Now { cache }) => {
                    reply(&pusher::subscription_succeeded(&channel, None));
                    if cache {
                        subscribe::fetch_cached(shard, key, &channel);
                    }
                }
                Ok(Subscribed::Pending) => {}
                Err(Refused::Channel {
                    kind,
                    error,
                    status,
                }) => reply(&pusher::subscription_error(&channel, kind, &error, status)),
                Err(Refused::Protocol(err)) => {
                    shard.stats().error(err.code());
                    reply(&pusher::error_for(&err))
                }
            }
        }
        Ok(ClientMessage::Unsubscribe { channel }) => {
            // An event acknowledged to its publisher before this unsubscribe was sent may still
            // sit in this core's rings; it belongs to the subscription, so deliver it first.
            catch_up(shard);
            subscribe::unsubscribe(shard, key, &channel)
        }
        Ok(ClientMessage::ClientEvent {
            event,
            channel,
            data,
        }) => client_event(shard, key, &event, &channel, data),
        Ok(ClientMessage::Signin { auth, user_data }) => {
            users::signin(shard, key, &auth, &user_data)
        }
        Ok(ClientMessage::Unknown { event }) => reply(&pusher::error_for(
            &PusherError::UnknownEvent(event.into_owned()),
        )),
        Err(err) => {
            shard.stats().error(err.code());
            reply(&pusher::error_for(&err))
        }
    }
}
