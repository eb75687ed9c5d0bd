//! Fuzzes `proto::pusher::parse_client_message` on arbitrary text, then every path the shell
//! takes with what it parsed: channel rules, signature checks and the server messages built
//! from client-supplied strings.
//!
//! Beyond "never panics": every server message built here must be valid JSON, because pusher-js
//! drops a frame it cannot parse and the client silently misses the event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringcast::proto::pusher::{
    self, channel_kind, parse_client_message, verify_channel_auth, verify_user_auth, ClientMessage,
};

const KEY: &str = "app-key";
const SECRET: &str = "app-secret";
const SOCKET_ID: &str = "123.456";

fuzz_target!(|data: &[u8]| {
    // Clients can only send UTF-8 text frames; lossy keeps non-UTF-8 inputs useful.
    let text = String::from_utf8_lossy(data);
    match parse_client_message(&text) {
        Ok(msg) => exercise(&msg),
        Err(e) => {
            let _ = (e.code(), e.closes_connection());
            json(&pusher::error_for(&e));
        }
    }
});

/// What the shell does with each kind of message, minus the I/O.
fn exercise(msg: &ClientMessage<'_>) {
    match msg {
        ClientMessage::Ping | ClientMessage::Pong => json(pusher::pong()),
        ClientMessage::Subscribe {
            channel,
            auth,
            channel_data,
        } => {
            let kind = channel_kind(channel);
            if let Some(auth) = auth {
                let _ = verify_channel_auth(
                    KEY,
                    SECRET,
                    SOCKET_ID,
                    channel,
                    channel_data.as_deref(),
                    auth,
                );
            }
            json(&pusher::subscription_succeeded(
                channel,
                channel_data.as_deref(),
            ));
            json(&pusher::subscription_error(
                channel,
                "AuthError",
                "bad",
                401,
            ));
            json(&pusher::cache_miss(channel));
            if let Err(e) = kind {
                json(&pusher::error_for(&e));
            }
            // The signature the app's server would produce must verify.
            let good =
                pusher::channel_auth(KEY, SECRET, SOCKET_ID, channel, channel_data.as_deref());
            assert!(verify_channel_auth(
                KEY,
                SECRET,
                SOCKET_ID,
                channel,
                channel_data.as_deref(),
                &good
            ));
        }
        ClientMessage::Unsubscribe { channel } => {
            let _ = channel_kind(channel);
            json(&pusher::member_removed(channel, "user"));
        }
        ClientMessage::Signin { auth, user_data } => {
            let _ = verify_user_auth(KEY, SECRET, SOCKET_ID, user_data, auth);
            json(&pusher::signin_success(user_data));
        }
        ClientMessage::ClientEvent {
            event,
            channel,
            data,
        } => {
            let _ = channel_kind(channel);
            json(&pusher::channel_event_raw(event, channel, data, None));
            json(&pusher::channel_event_raw(event, channel, data, Some("u1")));
            json(&pusher::member_added(channel, event, Some(data.get())));
        }
        ClientMessage::Unknown { event } => {
            json(&pusher::error(Some(4200), event));
        }
    }
}

/// Asserts that a message the server would send is one valid JSON value.
fn json(s: &str) {
    if let Err(e) = serde_json::from_str::<&serde_json::value::RawValue>(s) {
        panic!("server message is not valid JSON ({e}): {s}");
    }
}
