//! The conformance echo endpoint (`/echo`, only when `server.echo = true`): every text or
//! binary message comes back unchanged.
//!
//! It exists so the WebSocket layer can be checked against Autobahn's case list without the
//! Pusher protocol on top. It is a plain request/response loop that owns its socket: messages
//! up to [`ECHO_MAX_MESSAGE`] bytes, no outbox, no subscriptions.

use bytes::{Bytes, BytesMut};
use monoio::io::AsyncWriteRentExt;
use monoio::net::TcpStream;

use super::transport::read_into;
use crate::proto::http::RequestHead;
use crate::proto::ws::{self, Decoder, Message, Opcode, Role};

/// The largest message echoed (Autobahn section 9 sends up to 16 MiB).
pub const ECHO_MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// Serves one echo connection to its end.
pub async fn run(mut stream: TcpStream, head: RequestHead, mut buf: BytesMut) {
    let upgrade = match ws::check_upgrade(&head) {
        Ok(u) => u,
        Err(e) => {
            let _ = stream.write_all(super::session::upgrade_refusal(&e)).await;
            return;
        }
    };
    if stream
        .write_all(ws::response_101(&upgrade))
        .await
        .0
        .is_err()
    {
        return;
    }
    let mut decoder = Decoder::new(Role::Server, ECHO_MAX_MESSAGE);
    loop {
        let mut out = Vec::new();
        let mut done = false;
        // True when we answered the peer's close: both close frames are then exchanged and the
        // server closes TCP at once (RFC 6455 §7.1.1). After a close we *sent*, the peer gets a
        // moment to answer first.
        let mut peer_closed = false;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(msg)) => {
                    if let Some(reply) = answer(msg, &mut out) {
                        done = reply;
                        if done {
                            peer_closed = true;
                            break;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    ws::encode_frame(
                        &mut out,
                        Opcode::Close,
                        true,
                        &ws::close_payload(e.close_code(), ""),
                        None,
                    );
                    done = true;
                    break;
                }
            }
        }
        if !out.is_empty() && stream.write_all(out).await.0.is_err() {
            return;
        }
        if done && peer_closed {
            return;
        }
        if done {
            // Give the peer a moment to read our close and answer before the socket goes away.
            let _ = monoio::time::timeout(
                std::time::Duration::from_secs(1),
                read_into(&mut stream, &mut BytesMut::new()),
            )
            .await;
            return;
        }
        match read_into(&mut stream, &mut buf).await {
            Some(n) if n > 0 => {}
            _ => return,
        }
    }
}

/// Appends the reply to `msg` to `out`; `Some(true)` when the connection must end.
fn answer(msg: Message, out: &mut Vec<u8>) -> Option<bool> {
    let (opcode, payload): (Opcode, Bytes) = match msg {
        Message::Text(p) => (Opcode::Text, p),
        Message::Binary(p) => (Opcode::Binary, p),
        Message::Ping(p) => (Opcode::Pong, p),
        Message::Pong(_) => return None,
        Message::Close(frame) => {
            let payload = frame.map_or_else(Vec::new, |f| ws::close_payload(f.code, ""));
            ws::encode_frame(out, Opcode::Close, true, &payload, None);
            return Some(true);
        }
    };
    ws::encode_frame(out, opcode, true, &payload, None);
    Some(false)
}
