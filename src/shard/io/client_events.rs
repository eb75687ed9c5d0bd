//! Client events (`client-*`): sent by one member of a private or presence channel to the
//! others, never echoed to the sender, rate limited per connection.

use std::time::{Duration, Instant};

use serde_json::value::RawValue;

use crate::proto::pusher::text_frame;
use crate::proto::pusher::{self, ChannelKind, PusherError};
use crate::shard::cores::fanout::publish_event;
use crate::shard::state::Shard;

/// Checks and publishes a client event from connection `key`; errors go back to the sender.
pub fn client_event(shard: &Shard, key: usize, event: &str, channel: &str, data: &RawValue) {
    let now = Instant::now();
    let checked = {
        let mut conns = shard.conns.borrow_mut();
        let Some(conn) = conns.get_mut(key) else {
            return;
        };
        let result = check(shard, conn, channel, now);
        match result {
            Ok(user_id) => Ok((conn.app, conn.socket_id, user_id)),
            Err(err) => {
                shard.stats().error(err.code());
                conn.outbox.send(text_frame(&pusher::error_for(&err)));
                Err(())
            }
        }
    };
    let Ok((app, socket_id, user_id)) = checked else {
        return;
    };
    let json = pusher::channel_event_raw(event, channel, data, user_id.as_deref());
    publish_event(shard, app, channel, text_frame(&json), Some(socket_id));
}

/// The sender's presence user id (for the `user_id` field) when the event may go out.
fn check(
    shard: &Shard,
    conn: &mut crate::shard::state::Conn,
    channel: &str,
    now: Instant,
) -> Result<Option<std::sync::Arc<str>>, PusherError> {
    let app = &shard.config.apps[conn.app];
    if !app.enable_client_messages {
        return Err(PusherError::ClientEventsDisabled);
    }
    match pusher::channel_kind(channel)? {
        ChannelKind::Private | ChannelKind::Presence => {}
        ChannelKind::PrivateEncrypted => {
            return Err(PusherError::ClientEventRejected {
                reason: "client events are not allowed on private-encrypted channels",
            })
        }
        ChannelKind::Public => {
            return Err(PusherError::ClientEventRejected {
                reason: "client events are only allowed on private and presence channels",
            })
        }
    }
    let sub = conn
        .subs
        .iter()
        .find(|s| &*s.channel == channel && !s.pending)
        .ok_or(PusherError::ClientEventNotMember)?;
    let user_id = sub.member.clone();
    let (start, count) = &mut conn.client_events;
    if now.duration_since(*start) >= Duration::from_secs(1) {
        *start = now;
        *count = 0;
    }
    if *count >= app.max_client_events_per_second {
        return Err(PusherError::RateLimited);
    }
    *count += 1;
    Ok(user_id)
}
