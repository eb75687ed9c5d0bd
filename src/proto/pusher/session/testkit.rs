//! Helpers for the session's unit tests: an app's rules, a session at time zero, signed
//! messages, and the JSON inside the frames effects carry.

use std::rc::Rc;
use std::sync::Arc;

use bytes::BytesMut;
use serde_json::{json, Value};

use super::{Effect, Input, Millis, Rules, Session};
use crate::proto::pusher::{channel_auth, user_signature, SocketId};
use crate::proto::ws::{Decoder, Message, Role};

pub const KEY: &str = "app-key";
pub const SECRET: &str = "app-secret";
/// The socket id of every test session.
pub const SOCKET: &str = "123.456";

/// Rules with every limit loose enough not to matter unless a test tightens it.
pub fn rules() -> Rules {
    Rules {
        key: KEY.to_owned(),
        secret: SECRET.to_owned(),
        activity_timeout: 30,
        ping_interval: 60,
        signin_timeout: None,
        max_subscriptions: 100,
        max_messages_per_second: 100,
        client_events: true,
        max_client_events_per_second: 10,
        collection_prefix: String::new(),
    }
}

/// A session opened at time zero under `rules`, with connection authentication's `auth_user`.
pub fn session_as(rules: Rules, auth_user: Option<&str>) -> Session {
    let socket = SocketId::new(123, 456);
    Session::new(Rc::new(rules), socket, auth_user.map(Arc::from), Millis(0))
}

/// A session opened at time zero under [`rules`].
pub fn session() -> Session {
    session_as(rules(), None)
}

/// The effects of one input at `now` (milliseconds).
pub fn feed(s: &mut Session, input: Input<'_>, now: u64) -> Vec<Effect> {
    let mut out = Vec::new();
    s.handle(input, Millis(now), &mut out);
    out
}

/// The effects of one client message (a JSON value) at `now`.
pub fn send(s: &mut Session, msg: Value, now: u64) -> Vec<Effect> {
    feed(s, Input::Text(&msg.to_string()), now)
}

/// A `pusher:subscribe`, signed with the app secret when `signed`.
pub fn subscribe(channel: &str, data: Option<&str>, signed: bool) -> Value {
    let mut msg = json!({"event": "pusher:subscribe", "data": {"channel": channel}});
    if signed {
        let auth = channel_auth(KEY, SECRET, SOCKET, channel, data);
        msg["data"]["auth"] = json!(auth);
    }
    if let Some(data) = data {
        msg["data"]["channel_data"] = json!(data);
    }
    msg
}

/// A correctly signed `pusher:signin` for `user_data`.
pub fn signin(user_data: &str) -> Value {
    let auth = format!("{KEY}:{}", user_signature(SECRET, SOCKET, user_data));
    json!({"event": "pusher:signin", "data": {"auth": auth, "user_data": user_data}})
}

/// The owner's answer to a presence join of `user` on `channel`.
pub fn presence_answer<'a>(
    channel: &'a str,
    user: &str,
    result: Result<&'a str, &'a str>,
) -> Input<'a> {
    Input::PresenceAnswer {
        channel,
        user_id: Arc::from(user),
        result,
    }
}

/// The JSON inside a server text frame.
pub fn frame_json(frame: &[u8]) -> Value {
    let mut buf = BytesMut::from(frame);
    match Decoder::new(Role::Client, 1 << 20).decode(&mut buf) {
        Ok(Some(Message::Text(text))) => serde_json::from_slice(&text).expect("JSON text"),
        other => panic!("not one text frame: {other:?}"),
    }
}

/// The JSON of a [`Effect::Send`]; panics on any other effect.
pub fn sent(effect: &Effect) -> Value {
    match effect {
        Effect::Send(frame) => frame_json(frame),
        other => panic!("expected Send, got {other:?}"),
    }
}

/// The `event` of every frame sent among `effects`, in order.
pub fn events(effects: &[Effect]) -> Vec<String> {
    let names = effects.iter().filter_map(|e| match e {
        Effect::Send(frame) => frame_json(frame)["event"].as_str().map(str::to_owned),
        _ => None,
    });
    names.collect()
}
