//! Pusher protocol helpers shared by the modes with their own connection tasks (`pingpong`,
//! `soak`): waiting for `pusher:connection_established` to learn the socket id, signing
//! private-channel subscriptions, and the subscribe / unsubscribe / client-event frames.
//!
//! Owns no task and no timing decisions; it never reads past the message it was asked for.

use std::net::SocketAddr;

use serde::Deserialize;

use crate::client::{parse_data, Incoming, PONG};
use crate::sign::hmac_hex;
use crate::ws::{Msg, WsConn, OP_PONG};

#[derive(Deserialize)]
struct Established {
    socket_id: String,
}

/// Connects to `path` and waits for `pusher:connection_established`; returns the socket id.
pub async fn connect(addr: SocketAddr, host: &str, path: &str) -> Result<(WsConn, String), String> {
    let mut ws = WsConn::connect(addr, host, path)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    loop {
        let text = match ws
            .next()
            .await
            .map_err(|e| format!("handshake read: {e}"))?
        {
            Msg::Text(t) => t.to_vec(),
            Msg::Close => return Err("closed before connection_established".into()),
            Msg::Ping(p) => {
                let p = p.to_vec();
                ws.send(OP_PONG, &p).await.map_err(|e| e.to_string())?;
                continue;
            }
            Msg::Other => continue,
        };
        let m: Incoming = serde_json::from_slice(&text).map_err(|e| format!("bad JSON: {e}"))?;
        match &*m.event {
            "pusher:connection_established" => {
                let est: Established = m
                    .data
                    .and_then(|d| parse_data(d.get()))
                    .ok_or("connection_established without a socket_id")?;
                return Ok((ws, est.socket_id));
            }
            "pusher:ping" => ws.send_text(PONG).await.map_err(|e| e.to_string())?,
            "pusher:error" => {
                return Err(format!("server said: {}", String::from_utf8_lossy(&text)))
            }
            _ => {}
        }
    }
}

/// The `auth` of a private-channel subscription: `key:hex(HMAC-SHA256(secret, "socket_id:channel"))`.
pub fn private_auth(key: &str, secret: &str, socket_id: &str, channel: &str) -> String {
    format!(
        "{key}:{}",
        hmac_hex(secret, &format!("{socket_id}:{channel}"))
    )
}

/// A `pusher:subscribe` frame, with `auth` for a private channel.
pub fn subscribe_frame(channel: &str, auth: Option<&str>) -> String {
    match auth {
        Some(a) => format!(
            r#"{{"event":"pusher:subscribe","data":{{"channel":"{channel}","auth":"{a}"}}}}"#
        ),
        None => format!(r#"{{"event":"pusher:subscribe","data":{{"channel":"{channel}"}}}}"#),
    }
}

/// A `pusher:unsubscribe` frame.
pub fn unsubscribe_frame(channel: &str) -> String {
    format!(r#"{{"event":"pusher:unsubscribe","data":{{"channel":"{channel}"}}}}"#)
}

/// A client event carrying `data` (a JSON object) on `channel`.
pub fn client_event_frame(event: &str, channel: &str, data: &str) -> String {
    format!(r#"{{"event":"{event}","channel":"{channel}","data":{data}}}"#)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example from Pusher's authorizing-users documentation.
    #[test]
    fn private_auth_matches_pusher_docs() {
        let auth = private_auth(
            "278d425bdf160c739803",
            "7ad3773142a6692b25b8",
            "1234.1234",
            "private-foobar",
        );
        assert_eq!(
            auth,
            "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
        );
    }

    #[test]
    fn frames_are_json() {
        let f = subscribe_frame("private-a", Some("k:s"));
        let v: serde_json::Value = serde_json::from_str(&f).unwrap();
        assert_eq!(v["data"]["auth"], "k:s");
        let f = client_event_frame("client-ping", "private-a", r#"{"seq":1,"t":2}"#);
        let v: serde_json::Value = serde_json::from_str(&f).unwrap();
        assert_eq!(v["data"]["seq"], 1);
        let v: serde_json::Value = serde_json::from_str(&unsubscribe_frame("x")).unwrap();
        assert_eq!(v["event"], "pusher:unsubscribe");
    }
}
