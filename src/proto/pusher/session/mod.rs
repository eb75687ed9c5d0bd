//! One Pusher connection as a state machine, sans IO (the shape of quinn-proto's
//! `Connection`): the shell feeds it [`Input`]s with the time, and carries out the [`Effect`]s
//! it returns.
//!
//! Owns every per-connection Pusher rule: the handshake checks (`handshake`), subscribing
//! (`subscribe`), client events and their rate (`client_event`), sign-in, watchlists and
//! termination (`signin`), pings, activity and sign-in deadlines and the message rate
//! (`timers`). It holds the connection's subscriptions, user and rate windows, and nothing
//! else: no socket, no clock, no other connection. Effects say *what* must happen (send this
//! frame, close with this error, add this connection to a channel, ask a channel's owner core);
//! the shell in `src/shard` decides how.

mod binding;
mod client_event;
mod collection;
mod handshake;
mod signin;
mod subscribe;
mod time;
mod timers;

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod testkit;

use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;

use super::error::PusherError;
use super::frame::text_frame;
use super::message::{parse_client_message, ClientMessage};
use super::socket_id::SocketId;
use super::{connection_established, pong};

pub use handshake::{check as check_handshake, origin_allowed, PROTOCOLS};
pub use subscribe::unclaimed_presence_answer;
pub use time::{Millis, Window};

/// What an app allows its connections: the per-app settings the session rules read.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// The app key (the public half of `auth` signatures).
    pub key: String,
    /// The app secret that signs channel and user authentication.
    pub secret: String,
    /// Seconds of silence before the server pings, and the announced `activity_timeout`.
    pub activity_timeout: u32,
    /// Seconds of silence after which the server sends `pusher:ping`.
    pub ping_interval: u32,
    /// Seconds a connection has to sign in, when the app requires it.
    pub signin_timeout: Option<u32>,
    /// Subscriptions one connection may hold.
    pub max_subscriptions: usize,
    /// Messages of any kind one connection may send per second.
    pub max_messages_per_second: u32,
    /// Whether client events are accepted at all.
    pub client_events: bool,
    /// Client events one connection may send per second.
    pub max_client_events_per_second: u32,
    /// The prefix of collection channels, which need a registered filter; empty when the app
    /// has no collections.
    pub collection_prefix: String,
}

/// Something that happened to the connection, for the session to react to.
#[derive(Debug)]
pub enum Input<'a> {
    /// The WebSocket is open: announce the socket id.
    Open,
    /// A text message from the client.
    Text(&'a str),
    /// A binary message from the client (not part of the Pusher protocol).
    Binary,
    /// The periodic timer: pings, pong and sign-in deadlines.
    Tick,
    /// The presence channel's owner answered a join: `Ok` with the presence data JSON, or
    /// `Err` with why the join was refused.
    PresenceAnswer {
        /// The presence channel.
        channel: &'a str,
        /// The member id the join carried.
        user_id: Arc<str>,
        /// Presence data, or the refusal.
        result: Result<&'a str, &'a str>,
    },
    /// The cache channel's owner answered: its last event frame, or `None` for a miss.
    CacheAnswer {
        /// The cache channel.
        channel: &'a str,
        /// The cached event frame.
        frame: Option<Bytes>,
    },
    /// A user this connection watches came online or went offline.
    Watchlist {
        /// The watched user.
        user: &'a str,
        /// Online (true) or offline (false).
        online: bool,
    },
    /// The app terminates every connection of `user`.
    Terminate {
        /// The user id given at sign-in.
        user: &'a str,
    },
    /// The server is shutting down.
    Shutdown,
    /// The connection is gone: undo its subscriptions and sign-in.
    Closed,
}

/// What the shell must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Queue this server frame on the connection.
    Send(Bytes),
    /// Report `err` with `pusher:error`; the connection stays open.
    Error(PusherError),
    /// Report `err` with `pusher:error`, then close with its code.
    Close(PusherError),
    /// Apply what other cores already sent before what follows (an event acknowledged to its
    /// publisher before an unsubscribe still belongs to the subscription).
    CatchUp,
    /// Add the connection to the local subscribers of the channel.
    Join(Rc<str>),
    /// Remove the connection from the local subscribers of the channel.
    Leave(Rc<str>),
    /// Publish a client event frame to every subscriber of the channel but this connection.
    Publish {
        /// The channel.
        channel: Rc<str>,
        /// The encoded event frame.
        frame: Bytes,
    },
    /// A client event went out on the channel: the app's `client_event` webhook receivers
    /// may be told.
    ClientEventSent {
        /// The channel.
        channel: Rc<str>,
        /// The event name (`client-…`).
        event: String,
        /// The event data as a string (a JSON string's text, else the raw JSON).
        data: String,
        /// The sender's user id, on presence channels.
        user_id: Option<Arc<str>>,
    },
    /// Ask the core that owns the channel.
    Owner {
        /// The channel whose owner is asked.
        channel: Rc<str>,
        /// What is asked.
        request: OwnerRequest,
    },
    /// The connection signed in (`online`) or a signed-in connection ended: the user's owner
    /// counts it, and the owners of the watched users learn of the watcher.
    SignedIn {
        /// The user id from the signed `user_data`.
        user: Arc<str>,
        /// The users this connection watches.
        watchlist: Vec<Arc<str>>,
        /// Signed in (true) or gone (false).
        online: bool,
    },
}

/// A question or notice for a channel's owner core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerRequest {
    /// Join the presence channel as `user_id`; the owner answers with
    /// [`Input::PresenceAnswer`].
    PresenceJoin {
        /// The member id from the signed channel_data.
        user_id: Arc<str>,
        /// The raw JSON `user_info`.
        user_info: Option<Arc<str>>,
    },
    /// One connection of `user_id` left the presence channel.
    PresenceLeave {
        /// The member id.
        user_id: Arc<str>,
    },
    /// Send the cached event; the owner answers with [`Input::CacheAnswer`].
    CacheFetch,
}

/// One channel the connection subscribes to.
#[derive(Debug)]
struct Subscription {
    channel: Rc<str>,
    /// For presence channels, the member id the connection joined as.
    member: Option<Arc<str>>,
    /// True while a presence join waits for the owner's answer.
    pending: bool,
}

/// One Pusher connection's protocol state.
#[derive(Debug)]
pub struct Session {
    rules: Rc<Rules>,
    socket_id: SocketId,
    /// The user proven by connection authentication, which presence joins and sign-ins must
    /// claim.
    auth_user: Option<Arc<str>>,
    subs: Vec<Subscription>,
    /// Collection channels with a registered filter (see `collection`).
    collections: Vec<Rc<str>>,
    user: Option<Arc<str>>,
    watchlist: Vec<Arc<str>>,
    client_events: Window,
    messages: Window,
    opened: Millis,
    last_seen: Millis,
    ping_sent: Option<Millis>,
}

impl Session {
    /// A session opened at `now`, before [`Input::Open`].
    pub fn new(
        rules: Rc<Rules>,
        socket_id: SocketId,
        auth_user: Option<Arc<str>>,
        now: Millis,
    ) -> Self {
        Session {
            rules,
            socket_id,
            auth_user,
            subs: Vec::new(),
            collections: Vec::new(),
            user: None,
            watchlist: Vec::new(),
            client_events: Window::new(now),
            messages: Window::new(now),
            opened: now,
            last_seen: now,
            ping_sent: None,
        }
    }

    /// The connection's socket id.
    pub fn socket_id(&self) -> SocketId {
        self.socket_id
    }

    /// The user id given by `pusher:signin`, once signed in.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Reacts to `input` at `now`, appending what the shell must do to `out`.
    pub fn handle(&mut self, input: Input<'_>, now: Millis, out: &mut Vec<Effect>) {
        match input {
            Input::Open => out.push(Effect::Send(text_frame(&connection_established(
                &self.socket_id,
                self.rules.activity_timeout,
            )))),
            Input::Text(text) => self.message(text, now, out),
            Input::Binary => out.push(Effect::Error(PusherError::InvalidJson(
                "binary messages are not part of the Pusher protocol; send JSON text".to_owned(),
            ))),
            Input::Tick => self.tick(now, out),
            Input::PresenceAnswer {
                channel,
                user_id,
                result,
            } => self.presence_answered(channel, user_id, result, out),
            Input::CacheAnswer { channel, frame } => self.cache_answered(channel, frame, out),
            Input::Watchlist { user, online } => self.watched(user, online, out),
            Input::Terminate { user } => self.terminate(user, out),
            Input::Shutdown => out.push(Effect::Close(PusherError::ShuttingDown)),
            Input::Closed => self.closed(out),
        }
    }

    /// One client text message.
    fn message(&mut self, text: &str, now: Millis, out: &mut Vec<Effect>) {
        let msg = match parse_client_message(text) {
            Ok(msg) => msg,
            Err(err) => return out.push(Effect::Error(err)),
        };
        match msg {
            ClientMessage::Ping => out.push(Effect::Send(text_frame(pong()))),
            ClientMessage::Pong => {}
            ClientMessage::Subscribe {
                channel,
                auth,
                channel_data,
            } => self.subscribe(&channel, auth.as_deref(), channel_data.as_deref(), out),
            ClientMessage::Unsubscribe { channel } => self.unsubscribe(&channel, out),
            ClientMessage::ClientEvent {
                event,
                channel,
                data,
            } => self.client_event(&event, &channel, data, now, out),
            ClientMessage::Signin { auth, user_data } => self.signin(&auth, &user_data, out),
            ClientMessage::Unknown { event } => {
                out.push(Effect::Error(PusherError::UnknownEvent(event.into_owned())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::testkit::*;
    use super::*;

    #[test]
    fn open_announces_the_socket_id_and_activity_timeout() {
        let mut s = session();
        let out = feed(&mut s, Input::Open, 0);
        let msg = sent(&out[0]);
        assert_eq!(msg["event"], "pusher:connection_established");
        let data: serde_json::Value = serde_json::from_str(msg["data"].as_str().unwrap()).unwrap();
        assert_eq!(data, json!({"socket_id": SOCKET, "activity_timeout": 30}));
    }

    #[test]
    fn ping_is_answered_and_pong_needs_nothing() {
        let mut s = session();
        let out = send(&mut s, json!({"event": "pusher:ping", "data": {}}), 0);
        assert_eq!(events(&out), ["pusher:pong"]);
        assert!(send(&mut s, json!({"event": "pusher:pong", "data": {}}), 0).is_empty());
    }

    #[test]
    fn malformed_binary_and_unknown_messages_are_reported_without_closing() {
        let mut s = session();
        let out = feed(&mut s, Input::Text("{not json"), 0);
        assert!(matches!(
            &out[..],
            [Effect::Error(PusherError::InvalidJson(_))]
        ));
        let out = feed(&mut s, Input::Binary, 0);
        assert!(
            matches!(&out[..], [Effect::Error(PusherError::InvalidJson(d))] if d.contains("binary"))
        );
        let out = send(&mut s, json!({"event": "pusher:nonsense", "data": {}}), 0);
        assert_eq!(
            out,
            [Effect::Error(PusherError::UnknownEvent(
                "pusher:nonsense".into()
            ))]
        );
        assert!(out.iter().all(|e| !matches!(e, Effect::Close(_))));
    }

    #[test]
    fn shutdown_closes_with_4200() {
        let mut s = session();
        let out = feed(&mut s, Input::Shutdown, 0);
        assert_eq!(out, [Effect::Close(PusherError::ShuttingDown)]);
        assert_eq!(PusherError::ShuttingDown.code(), 4200);
    }
}
