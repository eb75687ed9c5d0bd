//! Server → client messages, encoded as JSON text.
//!
//! Owns the exact shapes pusher-js accepts (checked against pusher-js `protocol.ts`, which
//! JSON-parses `data` again when it is a string, and the Pusher protocol docs): `data` of
//! `pusher:connection_established` and `pusher_internal:*` events is a JSON-encoded string
//! ("double encoding"), `pusher:error` and `pusher:subscription_error` carry an object.
//! Strings are escaped by serde_json; no DOM is built. It never frames or sends anything.

use serde_json::value::RawValue;

use super::error::PusherError;
use super::socket_id::SocketId;

const PING: &str = r#"{"event":"pusher:ping","data":{}}"#;
const PONG: &str = r#"{"event":"pusher:pong","data":{}}"#;

/// `pusher:connection_established`, with `data` the JSON-encoded string
/// `{"socket_id":"hi.lo","activity_timeout":N}`. pusher-js refuses the handshake when
/// `activity_timeout` is missing or 0, so callers pass a positive value.
pub fn connection_established(socket_id: &SocketId, activity_timeout_secs: u32) -> String {
    let inner =
        format!(r#"{{"socket_id":"{socket_id}","activity_timeout":{activity_timeout_secs}}}"#);
    let mut out = Vec::with_capacity(64 + inner.len() * 2);
    out.extend_from_slice(br#"{"event":"pusher:connection_established","data":"#);
    push_json_str(&mut out, &inner);
    out.push(b'}');
    into_string(out)
}

/// `pusher:ping` with empty data; the client answers `pusher:pong`.
pub fn ping() -> &'static str {
    PING
}

/// `pusher:pong` with empty data, the answer to a client's `pusher:ping`.
pub fn pong() -> &'static str {
    PONG
}

/// `pusher_internal:subscription_succeeded` on `channel`. `data` is the raw JSON text of the
/// data object (the presence `{"presence":{…}}` object for presence channels); it is sent as a
/// JSON-encoded string, `"{}"` when `None`, as Reverb does.
pub fn subscription_succeeded(channel: &str, data: Option<&str>) -> String {
    let data = data.unwrap_or("{}");
    let mut out = Vec::with_capacity(80 + channel.len() + data.len() * 2);
    out.extend_from_slice(br#"{"event":"pusher_internal:subscription_succeeded","channel":"#);
    push_json_str(&mut out, channel);
    out.extend_from_slice(br#","data":"#);
    push_json_str(&mut out, data);
    out.push(b'}');
    into_string(out)
}

/// `pusher:subscription_error` on `channel`, with data `{"type":…,"error":…,"status":…}`:
/// the object pusher-js itself emits on that event when its auth endpoint fails, so apps'
/// existing handlers (and Laravel Echo's `.error()`) read it unchanged. For a bad signature use
/// `type` `"AuthError"` and `status` 401.
pub fn subscription_error(channel: &str, error_type: &str, error: &str, status: u16) -> String {
    let mut out = Vec::with_capacity(96 + channel.len() + error_type.len() + error.len());
    out.extend_from_slice(br#"{"event":"pusher:subscription_error","channel":"#);
    push_json_str(&mut out, channel);
    out.extend_from_slice(br#","data":{"type":"#);
    push_json_str(&mut out, error_type);
    out.extend_from_slice(br#","error":"#);
    push_json_str(&mut out, error);
    out.extend_from_slice(br#","status":"#);
    out.extend_from_slice(status.to_string().as_bytes());
    out.extend_from_slice(b"}}");
    into_string(out)
}

/// `pusher:error` with data `{"code":…,"message":…}` (`"code":null` when `None`), the object
/// form shown in the protocol docs.
pub fn error(code: Option<u16>, message: &str) -> String {
    let mut out = Vec::with_capacity(64 + message.len());
    out.extend_from_slice(br#"{"event":"pusher:error","data":{"code":"#);
    match code {
        Some(c) => out.extend_from_slice(c.to_string().as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(br#","message":"#);
    push_json_str(&mut out, message);
    out.extend_from_slice(b"}}");
    into_string(out)
}

/// `pusher:error` for `err`, with its code and its Display text.
pub fn error_for(err: &PusherError) -> String {
    error(Some(err.code()), &err.to_string())
}

/// A channel event: `{"event":…,"channel":…,"data":<data_literal>[,"user_id":…]}`.
///
/// `data_literal` must already be one JSON value (normally a JSON string literal, quotes
/// included, as the REST API delivers it) and is spliced in unchanged; the caller guarantees it
/// is valid JSON, e.g. because it came out of a `RawValue`. This is the fan-out hot path: one
/// allocation, no DOM. `user_id` is set for client events on presence channels.
pub fn channel_event(
    event: &str,
    channel: &str,
    data_literal: &str,
    user_id: Option<&str>,
) -> String {
    let mut out = Vec::new();
    write_channel_event(&mut out, event, channel, &[data_literal], user_id);
    into_string(out)
}

/// How many bytes [`write_channel_event`] appends, escapes aside: 40 bytes of fixed keys and
/// punctuation plus a little room for escapes.
pub fn channel_event_len(
    event: &str,
    channel: &str,
    data: &[&str],
    user_id: Option<&str>,
) -> usize {
    let data_len: usize = data.iter().map(|part| part.len()).sum();
    48 + event.len() + channel.len() + data_len + user_id.map_or(0, |u| u.len() + 16)
}

/// [`channel_event`] appended to `out`, with the data literal given as the pieces it is
/// made of (spliced in order, unchanged), so a caller can encode the payload behind a frame
/// header in one buffer without first putting the data together in another.
pub fn write_channel_event(
    out: &mut Vec<u8>,
    event: &str,
    channel: &str,
    data: &[&str],
    user_id: Option<&str>,
) {
    out.reserve(channel_event_len(event, channel, data, user_id));
    out.extend_from_slice(br#"{"event":"#);
    push_json_str(out, event);
    out.extend_from_slice(br#","channel":"#);
    push_json_str(out, channel);
    out.extend_from_slice(br#","data":"#);
    for part in data {
        out.extend_from_slice(part.as_bytes());
    }
    if let Some(uid) = user_id {
        out.extend_from_slice(br#","user_id":"#);
        push_json_str(out, uid);
    }
    out.push(b'}');
}

/// [`channel_event`] for data taken straight from a parsed client event.
pub fn channel_event_raw(
    event: &str,
    channel: &str,
    data: &RawValue,
    user_id: Option<&str>,
) -> String {
    channel_event(event, channel, data.get(), user_id)
}

/// `pusher_internal:member_added` on a presence channel; `data` is the JSON-encoded string of
/// `{"user_id":…,"user_info":…}`. `user_info` is raw JSON from the member's channel_data.
pub fn member_added(channel: &str, user_id: &str, user_info: Option<&str>) -> String {
    let mut inner = Vec::with_capacity(32 + user_id.len());
    inner.extend_from_slice(br#"{"user_id":"#);
    push_json_str(&mut inner, user_id);
    if let Some(info) = user_info {
        inner.extend_from_slice(br#","user_info":"#);
        inner.extend_from_slice(info.as_bytes());
    }
    inner.push(b'}');
    internal_event("pusher_internal:member_added", channel, &into_string(inner))
}

/// `pusher_internal:member_removed` on a presence channel; `data` is the JSON-encoded string
/// of `{"user_id":…}`.
pub fn member_removed(channel: &str, user_id: &str) -> String {
    let mut inner = Vec::with_capacity(16 + user_id.len());
    inner.extend_from_slice(br#"{"user_id":"#);
    push_json_str(&mut inner, user_id);
    inner.push(b'}');
    internal_event(
        "pusher_internal:member_removed",
        channel,
        &into_string(inner),
    )
}

/// `pusher:signin_success` with data `{"user_data":…}` (the docs' object form; pusher-js reads
/// `data.user_data` and parses it as JSON).
pub fn signin_success(user_data: &str) -> String {
    let mut out = Vec::with_capacity(64 + user_data.len() * 2);
    out.extend_from_slice(br#"{"event":"pusher:signin_success","data":{"user_data":"#);
    push_json_str(&mut out, user_data);
    out.extend_from_slice(b"}}");
    into_string(out)
}

/// `pusher:cache_miss` on a cache channel that has no cached event yet (as Reverb sends it).
pub fn cache_miss(channel: &str) -> String {
    let mut out = Vec::with_capacity(48 + channel.len());
    out.extend_from_slice(br#"{"event":"pusher:cache_miss","channel":"#);
    push_json_str(&mut out, channel);
    out.push(b'}');
    into_string(out)
}

/// `pusher_internal:watchlist_events` telling a watcher that `user` came online or went
/// offline; `data` is an object, as pusher-js's user module reads it.
pub fn watchlist_event(online: bool, user: &str) -> String {
    let name: &[u8] = if online { b"online" } else { b"offline" };
    let mut out = Vec::with_capacity(96 + user.len());
    out.extend_from_slice(
        br#"{"event":"pusher_internal:watchlist_events","data":{"events":[{"name":""#,
    );
    out.extend_from_slice(name);
    out.extend_from_slice(br#"","user_ids":["#);
    push_json_str(&mut out, user);
    out.extend_from_slice(b"]}]}}");
    into_string(out)
}

/// An event whose `data` is the JSON-encoded string of the JSON text `inner`.
fn internal_event(event: &str, channel: &str, inner: &str) -> String {
    let mut out = Vec::with_capacity(48 + event.len() + channel.len() + inner.len() * 2);
    out.extend_from_slice(br#"{"event":"#);
    push_json_str(&mut out, event);
    out.extend_from_slice(br#","channel":"#);
    push_json_str(&mut out, channel);
    out.extend_from_slice(br#","data":"#);
    push_json_str(&mut out, inner);
    out.push(b'}');
    into_string(out)
}

/// Appends `s` as a quoted, escaped JSON string. Writing into a `Vec` cannot fail, so the
/// `io::Result` carries nothing.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Every piece appended is a `&str` or ASCII, so this never takes the lossy path; it exists
/// so that an impossible invalid buffer still yields text instead of a panic.
fn into_string(out: Vec<u8>) -> String {
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn v(s: &str) -> Value {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn connection_established_double_encodes_data() {
        let s = connection_established(&SocketId::new(1, 2), 30);
        assert_eq!(
            s,
            r#"{"event":"pusher:connection_established","data":"{\"socket_id\":\"1.2\",\"activity_timeout\":30}"}"#
        );
        let inner = v(v(&s)["data"].as_str().unwrap());
        assert_eq!(inner, json!({"socket_id": "1.2", "activity_timeout": 30}));
    }

    #[test]
    fn ping_pong() {
        assert_eq!(v(ping()), json!({"event": "pusher:ping", "data": {}}));
        assert_eq!(v(pong()), json!({"event": "pusher:pong", "data": {}}));
    }

    #[test]
    fn subscription_succeeded_shapes() {
        let s = subscription_succeeded("my-channel", None);
        assert_eq!(
            s,
            r#"{"event":"pusher_internal:subscription_succeeded","channel":"my-channel","data":"{}"}"#
        );
        let presence = r#"{"presence":{"ids":["1"],"hash":{"1":{"name":"A"}},"count":1}}"#;
        let s = subscription_succeeded("presence-x", Some(presence));
        let out = v(&s);
        assert_eq!(out["channel"], "presence-x");
        assert_eq!(v(out["data"].as_str().unwrap()), v(presence));
    }

    #[test]
    fn subscription_error_shape() {
        let s = subscription_error("private-x", "AuthError", "Invalid \"sig\"", 401);
        assert_eq!(
            v(&s),
            json!({"event": "pusher:subscription_error", "channel": "private-x",
                   "data": {"type": "AuthError", "error": "Invalid \"sig\"", "status": 401}})
        );
    }

    #[test]
    fn watchlist_event_shape() {
        assert_eq!(
            v(&watchlist_event(true, "u\"1")),
            json!({"event": "pusher_internal:watchlist_events",
                   "data": {"events": [{"name": "online", "user_ids": ["u\"1"]}]}})
        );
        assert_eq!(
            v(&watchlist_event(false, "7"))["data"]["events"][0]["name"],
            "offline"
        );
    }

    #[test]
    fn error_shapes() {
        assert_eq!(
            error(Some(4001), "Application does not exist"),
            r#"{"event":"pusher:error","data":{"code":4001,"message":"Application does not exist"}}"#
        );
        assert_eq!(
            v(&error(None, "x\ny")),
            json!({"event": "pusher:error", "data": {"code": null, "message": "x\ny"}})
        );
        let e = PusherError::MissingField("channel");
        assert_eq!(
            v(&error_for(&e)),
            json!({"event": "pusher:error", "data": {"code": 4200,
                   "message": "Invalid message format: missing field `channel`"}})
        );
    }

    #[test]
    fn channel_event_splices_data_raw() {
        let data = r#""{\"a\":1}""#;
        let s = channel_event("my-event", "my-channel", data, None);
        assert_eq!(
            s,
            r#"{"event":"my-event","channel":"my-channel","data":"{\"a\":1}"}"#
        );
        assert_eq!(v(&s)["data"], json!("{\"a\":1}"));
    }

    #[test]
    fn channel_event_escapes_names_and_adds_user_id() {
        let s = channel_event(
            "client-\"q\"",
            "presence-\\x",
            "{\"k\":[1,2]}",
            Some("u\u{1}1"),
        );
        assert_eq!(
            v(&s),
            json!({"event": "client-\"q\"", "channel": "presence-\\x",
                   "data": {"k": [1, 2]}, "user_id": "u\u{1}1"})
        );
    }

    #[test]
    fn write_channel_event_appends() {
        let mut buf = b"HDR".to_vec();
        write_channel_event(&mut buf, "e", "c", &["1"], None);
        assert_eq!(&buf[..3], b"HDR");
        assert_eq!(
            v(std::str::from_utf8(&buf[3..]).unwrap()),
            json!({"event":"e","channel":"c","data":1})
        );
    }

    #[test]
    fn channel_event_raw_from_parsed_client_event() {
        let raw: &RawValue = serde_json::from_str(r#"{"x": 1}"#).unwrap();
        let s = channel_event_raw("client-x", "private-c", raw, None);
        assert_eq!(
            s,
            r#"{"event":"client-x","channel":"private-c","data":{"x": 1}}"#
        );
    }

    #[test]
    fn presence_member_events() {
        let s = member_added("presence-x", "7", Some(r#"{"name":"A"}"#));
        let out = v(&s);
        assert_eq!(out["event"], "pusher_internal:member_added");
        assert_eq!(out["channel"], "presence-x");
        assert_eq!(
            v(out["data"].as_str().unwrap()),
            json!({"user_id": "7", "user_info": {"name": "A"}})
        );

        let out = v(&member_removed("presence-x", "7"));
        assert_eq!(out["event"], "pusher_internal:member_removed");
        assert_eq!(v(out["data"].as_str().unwrap()), json!({"user_id": "7"}));
    }

    #[test]
    fn signin_success_and_cache_miss() {
        assert_eq!(
            v(&signin_success(r#"{"id":"1"}"#)),
            json!({"event": "pusher:signin_success", "data": {"user_data": "{\"id\":\"1\"}"}})
        );
        assert_eq!(
            v(&cache_miss("cache-x")),
            json!({"event": "pusher:cache_miss", "channel": "cache-x"})
        );
    }
}
