//! HTTP/1.1 for `ringcast-floor`: read request heads on a keep-alive connection, answer the
//! WebSocket upgrade on `/app/{key}` and the REST publish `POST /apps/{id}/events`.
//!
//! The publish takes `{"name", "channel" | "channels", "data"}` without checking any signature
//! and encodes each channel's event frame once before handing it to every worker. Anything
//! else gets `GET /up`'s 200 or a 404; malformed requests close the connection.

use std::rc::Rc;

use base64::Engine;
use serde::Deserialize;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::hub::{Local, Workers};
use crate::ws;

/// The largest request head or body this server reads.
const MAX_REQUEST: usize = 1 << 20;

/// The parts of a request head the floor acts on.
struct Head {
    method: String,
    path: String,
    websocket_key: Option<String>,
    content_length: usize,
}

fn parse_head(raw: &[u8]) -> Option<Head> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut lines = text.split("\r\n");
    let mut request = lines.next()?.split(' ');
    let (method, target) = (request.next()?, request.next()?);
    let mut head = Head {
        method: method.to_owned(),
        path: target.split('?').next()?.to_owned(),
        websocket_key: None,
        content_length: 0,
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("sec-websocket-key") {
            head.websocket_key = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("content-length") {
            head.content_length = value.parse().ok()?;
        }
    }
    Some(head)
}

/// `Sec-WebSocket-Accept` for a client's key (RFC 6455 section 4.2.2).
fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// Reads until `buf` holds `want` bytes; false at EOF, on an error or past the size cap.
async fn fill_to(stream: &mut TcpStream, buf: &mut Vec<u8>, want: usize) -> bool {
    let mut chunk = [0u8; 4096];
    while buf.len() < want {
        match stream.read(&mut chunk).await {
            Ok(n) if n > 0 && buf.len() + n <= MAX_REQUEST => buf.extend_from_slice(&chunk[..n]),
            _ => return false,
        }
    }
    true
}

/// Serves one accepted socket until it closes.
pub async fn serve(stream: std::net::TcpStream, local: Rc<Local>, workers: Workers) {
    let Ok(mut stream) = stream
        .set_nonblocking(true)
        .and_then(|()| TcpStream::from_std(stream))
    else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(1024);
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let want = buf.len() + 1;
            if !fill_to(&mut stream, &mut buf, want).await {
                return;
            }
        };
        let Some(head) = parse_head(&buf[..head_end]) else {
            return;
        };
        if let (Some(key), true) = (&head.websocket_key, head.path.starts_with("/app/")) {
            let answer = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {}\r\n\r\n",
                accept_key(key)
            );
            if stream.write_all(answer.as_bytes()).await.is_ok() {
                crate::session::run(stream, &buf[head_end..], local).await;
            }
            return;
        }
        let end = head_end + head.content_length;
        if !fill_to(&mut stream, &mut buf, end).await {
            return;
        }
        let (status, body) = route(&head, &buf[head_end..end], &workers);
        let answer = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
        buf.drain(..end);
    }
}

/// A REST event as publishers send it.
#[derive(Deserialize)]
struct Event {
    name: String,
    data: String,
    channel: Option<String>,
    #[serde(default)]
    channels: Vec<String>,
}

fn route(head: &Head, body: &[u8], workers: &Workers) -> (&'static str, String) {
    let publish =
        head.method == "POST" && head.path.starts_with("/apps/") && head.path.ends_with("/events");
    if head.method == "GET" && head.path == "/up" {
        return ("200 OK", "{}".into());
    }
    if !publish {
        return ("404 Not Found", r#"{"error":"not found"}"#.into());
    }
    let event: Event = match serde_json::from_slice(body) {
        Ok(e) => e,
        Err(e) => {
            return (
                "400 Bad Request",
                serde_json::json!({ "error": e.to_string() }).to_string(),
            )
        }
    };
    for channel in event.channels.iter().chain(&event.channel) {
        let message =
            serde_json::json!({"event": event.name, "channel": channel, "data": event.data});
        let frame = ws::frame(ws::OP_TEXT, message.to_string().as_bytes(), None);
        workers.publish(channel, frame);
    }
    ("200 OK", "{}".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of RFC 6455 section 1.3.
    #[test]
    fn accept_key_matches_the_rfc_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn head_gives_method_path_key_and_length() {
        let raw =
            b"POST /apps/1/events?auth_key=k HTTP/1.1\r\nHost: x\r\ncontent-length: 12\r\n\r\n";
        let head = parse_head(raw).unwrap();
        assert_eq!(
            (head.method.as_str(), head.path.as_str()),
            ("POST", "/apps/1/events")
        );
        assert_eq!((head.content_length, head.websocket_key), (12, None));
        let raw = b"GET /app/key?protocol=7 HTTP/1.1\r\nSec-WebSocket-Key: abc\r\n\r\n";
        assert_eq!(
            parse_head(raw).unwrap().websocket_key.as_deref(),
            Some("abc")
        );
    }
}
