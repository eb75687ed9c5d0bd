//! One WebSocket client of `ringcast-floor`, after the upgrade.
//!
//! Answers and the shared event frames go out through the connection's [`Sink`]; the reader
//! handles `pusher:subscribe`, `pusher:unsubscribe`, `pusher:ping`, WebSocket pings and the
//! close. Client events and
//! private-channel authorisation are not served: the bench workloads do not use them.

use std::rc::Rc;

use serde::Deserialize;
use tokio::net::TcpStream;

use crate::hub::Local;
use crate::sink::Sink;
use crate::ws::{self, Msg, WsConn};

/// What the reader looks at in a client message.
#[derive(Deserialize)]
struct ClientMessage {
    event: String,
    #[serde(default)]
    data: serde_json::Value,
}

/// Sends one unmasked text frame.
fn send_text(sink: &Sink, text: &str) {
    sink.send(ws::frame(ws::OP_TEXT, text.as_bytes(), None).into());
}

/// Runs the connection until the client leaves; `leftover` are bytes read past the head.
pub async fn run(stream: TcpStream, leftover: &[u8], local: Rc<Local>) {
    let (read, write) = stream.into_split();
    let sink = Sink::start(write);
    let id = local.next_id();
    let established = serde_json::json!({
        "event": "pusher:connection_established",
        "data": serde_json::json!({"socket_id": format!("{}.{id}", local.worker), "activity_timeout": 120}).to_string(),
    });
    send_text(&sink, &established.to_string());
    let mut conn = WsConn::upgraded(read, leftover);
    let mut joined: Vec<String> = Vec::new();
    loop {
        match conn.next().await {
            Ok(Msg::Text(text)) => on_text(text, id, &local, &sink, &mut joined),
            Ok(Msg::Ping(payload)) => {
                sink.send(ws::frame(ws::OP_PONG, payload, None).into());
            }
            Ok(Msg::Close) => {
                sink.send(ws::frame(ws::OP_CLOSE, &1000u16.to_be_bytes(), None).into());
                break;
            }
            Ok(Msg::Other) => {}
            Err(_) => break,
        }
    }
    for channel in &joined {
        local.unsubscribe(channel, id);
    }
    sink.close();
}

fn on_text(text: &[u8], id: u64, local: &Local, sink: &Rc<Sink>, joined: &mut Vec<String>) {
    let Ok(msg) = serde_json::from_slice::<ClientMessage>(text) else {
        return;
    };
    let channel = msg.data["channel"].as_str().unwrap_or_default();
    match msg.event.as_str() {
        "pusher:subscribe" if !channel.is_empty() => {
            local.subscribe(channel, id, sink);
            joined.push(channel.to_owned());
            let ok = serde_json::json!({
                "event": "pusher_internal:subscription_succeeded",
                "channel": channel,
                "data": "{}",
            });
            send_text(sink, &ok.to_string());
        }
        "pusher:unsubscribe" => {
            local.unsubscribe(channel, id);
            joined.retain(|c| c != channel);
        }
        "pusher:ping" => send_text(sink, r#"{"event":"pusher:pong","data":"{}"}"#),
        _ => {}
    }
}
