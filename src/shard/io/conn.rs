//! A freshly accepted TCP connection: read its request head, then either hand it to a
//! WebSocket session or answer REST requests on it (HTTP/1.1 keep-alive).
//!
//! Only bytes move here; parsing is `proto::http`, routing and answers are `api`.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, Bytes, BytesMut};
use monoio::net::{TcpListener, TcpStream};

use super::session;
use super::transport::Transport;
use crate::proto::http::{self, BodyFraming, ChunkedDecoder, RequestHead, Response};
use crate::ratelimit::{client_ip, IpGroup};
use crate::shard::cores::gather::{ask, Reply};
use crate::shard::port::Port;
use crate::shard::state::CoreMsg;
use crate::shard::state::Shard;

/// Accepts connections forever, one task per connection.
/// Returns when shutdown cancels it.
pub async fn accept_loop(shard: Rc<Shard>, listener: TcpListener) {
    let canceller = monoio::io::Canceller::new();
    let cancel = canceller.handle();
    *shard.accept_cancel.borrow_mut() = Some(canceller);
    loop {
        if crate::shard::lifecycle::shutdown::requested(&shard) {
            return;
        }
        match listener.cancelable_accept(cancel.clone()).await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                monoio::spawn(serve(shard.clone(), stream, peer));
            }
            Err(e) => {
                // Usually EMFILE: back off briefly instead of spinning on the error.
                tracing::warn!(shard = shard.id, error = %e, "accept failed");
                monoio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// A connection's socket with its transport (plain or TLS).
pub struct Link {
    /// The socket.
    pub stream: TcpStream,
    /// How bytes are carried on it.
    pub transport: Transport,
}

impl Link {
    /// Reads once, appending plaintext to `buf`; `None` at EOF or on an error.
    pub async fn read_more(&mut self, buf: &mut BytesMut) -> Option<usize> {
        self.transport.read_more(&mut self.stream, buf).await
    }

    /// Writes `bytes` (sealed under TLS).
    pub async fn write_all(&mut self, bytes: Vec<u8>) -> std::io::Result<()> {
        self.transport.write_all(&mut self.stream, bytes).await
    }
}

async fn serve(shard: Rc<Shard>, stream: TcpStream, peer: SocketAddr) {
    let transport = match Transport::new(shard.tls_config()) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(shard = shard.id, error = %e, "cannot start a TLS session");
            return;
        }
    };
    let mut link = Link { stream, transport };
    let mut buf = BytesMut::with_capacity(2048);
    let port = Port::new(shard.clone());
    let timeout = Duration::from_secs(u64::from(shard.config.handshake_timeout));
    loop {
        let head = match monoio::time::timeout(timeout, read_head(&mut link, &mut buf)).await {
            Ok(Ok(Some(head))) => head,
            Ok(Ok(None)) | Err(_) => return,
            Ok(Err(e)) => {
                let resp = Response::error(e.status(), &e.to_string());
                let _ = link.write_all(resp.to_bytes(false)).await;
                return;
            }
        };
        let _ = buf.split_to(head.head_len);
        // Framing is checked for every request, upgrades included: an ambiguous head is where a
        // proxy and ringcast could disagree on where the next request begins.
        let framing = match http::body_framing(&head) {
            Ok(framing) => framing,
            Err(e) => {
                let resp = Response::error(e.status(), &e.to_string());
                let _ = link.write_all(resp.to_bytes(false)).await;
                return;
            }
        };
        if head.path == "/echo" && shard.config.echo && !link.transport.is_tls() {
            super::echo::run(link.stream, head, buf).await;
            return;
        }
        if head.path.starts_with("/app/") {
            if let Err(wait) = admit_address(&shard, &head, peer).await {
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                let limit = shard.config.max_connections_per_ip_per_minute;
                let resp = Response::error(
                    429,
                    &format!("too many connections from this address: at most {limit} per minute; retry in {secs} s"),
                )
                .with_header("Retry-After", secs.max(1).to_string());
                let _ = link.write_all(resp.to_bytes(false)).await;
                return;
            }
            // Connection authentication (per app, optional): refused before any 101.
            let auth_user = match super::conn_auth::authenticate(&shard, &head).await {
                Ok(user) => user,
                Err(e) => {
                    let _ = link.write_all(e.response().to_bytes(false)).await;
                    return;
                }
            };
            session::run(shard, link, head, buf, peer, auth_user).await;
            return;
        }
        let (resp, close) = match read_body(&shard, &mut link, &mut buf, framing).await {
            Ok(body) => {
                let resp = (shard.rest)(&port, &head, &body, unix_now()).await;
                let close = !http::keep_alive(&head) || resp.status == 413 || resp.status == 400;
                (resp, close)
            }
            // Where the body ends is unknown: nothing after it can be trusted as a request.
            Err(resp) => (resp, true),
        };
        if link.write_all(resp.to_bytes(!close)).await.is_err() || close {
            return;
        }
    }
}

/// Counts a WebSocket connection against its address's sliding window, on the core that owns
/// that address. `Err` carries how long until the address may connect again.
async fn admit_address(
    shard: &Rc<Shard>,
    head: &RequestHead,
    peer: SocketAddr,
) -> Result<(), Duration> {
    if shard.config.max_connections_per_ip_per_minute == 0 {
        return Ok(());
    }
    let ip = client_ip(
        peer.ip(),
        head.header("x-forwarded-for"),
        &shard.config.trusted_proxies,
    );
    let group = IpGroup::of(ip);
    let owner = (group.hash() % shard.config.workers as u64) as usize;
    let replies = ask(shard, std::iter::once(owner), |from, id, _| {
        CoreMsg::AdmitIp { from, id, group }
    })
    .await;
    match replies.as_deref() {
        Some([Reply::Admit(verdict)]) => *verdict,
        _ => {
            // The owner did not answer in time: admit rather than refuse a legitimate client.
            tracing::warn!(shard = shard.id, %ip, "address admission unanswered; admitting");
            Ok(())
        }
    }
}

/// Reads until `buf` holds a complete head. `Ok(None)` on a clean EOF before any byte.
async fn read_head(
    link: &mut Link,
    buf: &mut BytesMut,
) -> Result<Option<RequestHead>, http::HeadError> {
    loop {
        if !buf.is_empty() {
            if let Some(head) = http::parse_head(buf)? {
                return Ok(Some(head));
            }
        }
        match link.read_more(buf).await {
            None if buf.is_empty() => return Ok(None),
            None => return Err(http::HeadError::Malformed("connection closed mid-head")),
            Some(_) => {}
        }
    }
}

/// Reads the request body as its head frames it, within the configured limit (a chunked body
/// is decoded, and the limit applies to the decoded bytes). An `Err` is the answer to send
/// before closing.
async fn read_body(
    shard: &Shard,
    link: &mut Link,
    buf: &mut BytesMut,
    framing: BodyFraming,
) -> Result<Bytes, Response> {
    let limit = shard.config.max_request_size;
    let timeout = Duration::from_secs(u64::from(shard.config.handshake_timeout));
    let body = async {
        match framing {
            BodyFraming::Length(len) if len > limit => Err(Response::error(
                413,
                &format!("request body of {len} bytes exceeds the {limit}-byte limit (REVERB_MAX_REQUEST_SIZE)"),
            )),
            BodyFraming::Length(len) => {
                while buf.len() < len {
                    link.read_more(buf).await.ok_or_else(incomplete)?;
                }
                Ok(buf.split_to(len).freeze())
            }
            BodyFraming::Chunked => read_chunked(link, buf, limit).await,
        }
    };
    monoio::time::timeout(timeout, body)
        .await
        .unwrap_or_else(|_| Err(incomplete()))
}

/// Decodes a chunked body as its bytes arrive, leaving whatever follows it in `buf`.
async fn read_chunked(
    link: &mut Link,
    buf: &mut BytesMut,
    limit: usize,
) -> Result<Bytes, Response> {
    let mut decoder = ChunkedDecoder::new(limit);
    let mut body = Vec::new();
    loop {
        let used = decoder
            .decode(buf, &mut body)
            .map_err(|e| Response::error(e.status(), &e.to_string()))?;
        buf.advance(used);
        if decoder.is_done() {
            return Ok(Bytes::from(body));
        }
        link.read_more(buf).await.ok_or_else(incomplete)?;
    }
}

/// The answer when the client stops sending a body (EOF or the timeout) before its end.
fn incomplete() -> Response {
    Response::error(400, "request body incomplete")
}

/// Seconds since the Unix epoch, for REST signature timestamps.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
