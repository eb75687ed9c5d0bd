//! A WebSocket session: the upgrade, the app and protocol checks, then the read loop that
//! feeds bytes to the frame decoder and messages to the Pusher handler.
//!
//! The read is cancelable so the sweeper (idle timeouts) can end a session whose peer went
//! silent; that cancel is the only way a session is torn down from outside. Writes go through
//! the connection's [`Outbox`].

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use monoio::buf::IoBufMut;
use monoio::io::{CancelableAsyncReadRent, Canceller, Splitable};

use super::conn::Link;
use super::outbox::Outbox;
use super::pusher_handler;
use super::transport::Transport;
use crate::proto::http::{self, RequestHead, Response};
use crate::proto::pusher::{self, close_frame, text_frame, PusherError};
use crate::proto::ws::{self, Decoder, Message, Opcode, Role};
use crate::shard::cores::fanout::catch_up;
use crate::shard::model::stats::ShardStats;
use crate::shard::state::{Conn, Shard};

/// Pusher protocol versions this server speaks (pusher-js sends 7).
const PROTOCOLS: std::ops::RangeInclusive<u32> = 5..=7;

/// Runs one WebSocket connection to its end.
pub async fn run(
    shard: Rc<Shard>,
    mut link: Link,
    head: RequestHead,
    leftover: BytesMut,
    peer: SocketAddr,
    auth_user: Option<Arc<str>>,
) {
    let upgrade = match ws::check_upgrade(&head) {
        Ok(u) => u,
        Err(e) => {
            let _ = link.write_all(upgrade_refusal(&e)).await;
            return;
        }
    };
    if link.write_all(ws::response_101(&upgrade)).await.is_err() {
        return;
    }
    let transport = link.transport.clone();
    let (reader, writer) = link.stream.into_split();
    let outbox = Outbox::new(writer, transport.clone());
    let app = match admit(&shard, &head) {
        Ok(app) => app,
        Err(err) => {
            tracing::debug!(shard = shard.id, %peer, error = %err, "connection refused");
            refuse(&shard, &outbox, &err);
            return;
        }
    };
    let socket_id = shard.next_socket_id();
    let canceller = Canceller::new();
    let cancel = canceller.handle();
    let now = Instant::now();
    let key = shard.add_conn(Conn {
        app,
        socket_id,
        outbox: outbox.clone(),
        subs: Vec::new(),
        user_id: None,
        auth_user,
        watchlist: Vec::new(),
        client_events: (now, 0),
        opened: now,
        last_seen: now,
        ping_sent: None,
        closing_since: None,
        canceller: Some(canceller),
    });
    let activity_timeout = shard.config.apps[app].activity_timeout;
    outbox.send(text_frame(&pusher::connection_established(
        &socket_id,
        activity_timeout,
    )));
    let max = shard.config.apps[app].max_message_size;
    let mut session = Session {
        shard: &shard,
        key,
        outbox: &outbox,
        decoder: Decoder::new(Role::Server, max),
        rate: (now, 0),
        max_rate: shard.config.apps[app].max_messages_per_second,
    };
    session.read_loop(reader, leftover, cancel, transport).await;
    shard.remove_conn(key);
}

/// The HTTP answer to a request that is not a valid WebSocket upgrade (with the
/// `Sec-WebSocket-Version` header a 426 needs).
pub fn upgrade_refusal(e: &ws::HandshakeError) -> Vec<u8> {
    let mut resp = Response::error(e.status(), &e.to_string());
    for (name, value) in e.extra_headers() {
        resp = resp.with_header(*name, *value);
    }
    resp.to_bytes(false)
}

/// Picks the app from `/app/{key}` and checks the protocol version.
fn admit(shard: &Shard, head: &RequestHead) -> Result<usize, PusherError> {
    let key = head.path.trim_start_matches("/app/").trim_end_matches('/');
    let app = shard.app_by_key(key).ok_or(PusherError::AppNotFound)?;
    let config = &shard.config.apps[app];
    if let Some(origin) = head.header("origin") {
        if !origin_allowed(&config.allowed_origins, origin) {
            return Err(PusherError::Unauthorized);
        }
    }
    let params = http::parse_query(&head.query).unwrap_or_default();
    let protocol = http::query_value(&params, "protocol").ok_or(PusherError::NoProtocolVersion)?;
    let version: u32 = protocol
        .parse()
        .map_err(|_| PusherError::InvalidVersionFormat)?;
    if !PROTOCOLS.contains(&version) {
        return Err(PusherError::UnsupportedProtocol);
    }
    if !shard
        .shared
        .admit_app_connection(app, config.max_connections)
    {
        return Err(PusherError::OverConnectionQuota);
    }
    Ok(app)
}

/// Whether a browser `Origin` may connect: `*`, the exact origin, its host, or a `*.domain`
/// pattern matching the host (Reverb compares hosts the same way).
fn origin_allowed(allowed: &[String], origin: &str) -> bool {
    let host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    allowed.iter().any(|a| {
        a == "*"
            || a == origin
            || a.eq_ignore_ascii_case(host)
            || a.strip_prefix("*.").is_some_and(|domain| {
                host.len() > domain.len() + 1
                    && host
                        .to_ascii_lowercase()
                        .ends_with(&format!(".{}", domain.to_ascii_lowercase()))
            })
    })
}

/// Sends `pusher:error` and closes with the error's code, as Pusher does.
pub fn refuse(shard: &Shard, outbox: &Rc<Outbox>, err: &PusherError) {
    outbox.send(text_frame(&pusher::error_for(err)));
    shard.stats().error(err.code());
    outbox.close_with(Some(close_frame(err.code(), &err.to_string())));
}

struct Session<'a> {
    shard: &'a Rc<Shard>,
    key: usize,
    outbox: &'a Rc<Outbox>,
    decoder: Decoder,
    /// Start of the current one-second window and messages received in it.
    rate: (Instant, u32),
    max_rate: u32,
}

impl Session<'_> {
    async fn read_loop(
        &mut self,
        mut reader: impl CancelableAsyncReadRent,
        mut buf: BytesMut,
        cancel: monoio::io::CancelHandle,
        transport: Transport,
    ) {
        // Under TLS, ciphertext lands here first; plain TCP reads straight into `buf`.
        let mut wire = BytesMut::new();
        loop {
            if !self.drain_messages(&mut buf) {
                return;
            }
            let target = if transport.is_tls() {
                &mut wire
            } else {
                &mut buf
            };
            if target.capacity() - target.len() < 512 {
                target.reserve(2048);
            }
            let owned = std::mem::take(target);
            let start = owned.len();
            let cap = owned.capacity();
            let (res, slice) = reader
                .cancelable_read(owned.slice_mut(start..cap), cancel.clone())
                .await;
            *target = slice.into_inner();
            match res {
                Ok(0) | Err(_) => return,
                Ok(_) => self.touch(),
            }
            if transport.is_tls() {
                let opened = transport.open(&mut wire, &mut buf);
                if transport.wants_write() {
                    self.outbox.flush_transport();
                }
                if opened.is_err() {
                    return;
                }
            }
        }
    }

    /// Decodes and handles every complete message in `buf`. False when the session must end.
    fn drain_messages(&mut self, buf: &mut BytesMut) -> bool {
        loop {
            let msg = match self.decoder.decode(buf) {
                Ok(Some(msg)) => msg,
                Ok(None) => return true,
                Err(e) => {
                    tracing::debug!(shard = self.shard.id, error = %e, "websocket protocol error");
                    self.shard.stats().error(e.close_code());
                    self.outbox
                        .close_with(Some(close_frame(e.close_code(), &e.to_string())));
                    return false;
                }
            };
            ShardStats::add(&self.shard.stats().messages_in, 1);
            if !matches!(msg, Message::Close(_)) && !self.within_rate() {
                continue;
            }
            if self.outbox.is_closing() {
                // After our close frame only the peer's close matters.
                if matches!(msg, Message::Close(_)) {
                    return false;
                }
                continue;
            }
            match msg {
                Message::Text(text) => {
                    pusher_handler::handle_text(self.shard, self.key, self.outbox, &text)
                }
                Message::Binary(_) => {
                    let err = PusherError::InvalidJson(
                        "binary messages are not part of the Pusher protocol; send JSON text"
                            .to_owned(),
                    );
                    self.outbox.send(text_frame(&pusher::error_for(&err)));
                }
                Message::Ping(payload) => {
                    self.outbox
                        .send(Bytes::from(ws::server_frame(Opcode::Pong, &payload)));
                }
                Message::Pong(_) => {}
                Message::Close(frame) => {
                    // Events published before the client asked to close may still sit in this
                    // core's rings: deliver them ahead of the close reply.
                    catch_up(self.shard);
                    let code = frame.map_or(ws::code::NORMAL, |f| f.code);
                    self.outbox.close_with(Some(close_frame(code, "")));
                    return false;
                }
            }
        }
    }

    /// Counts one message against the connection's per-second budget. Over it, the message is
    /// dropped, and the first excess message of the second is answered with 4301.
    fn within_rate(&mut self) -> bool {
        let now = Instant::now();
        let (start, count) = &mut self.rate;
        if now.duration_since(*start) >= std::time::Duration::from_secs(1) {
            *start = now;
            *count = 0;
        }
        *count += 1;
        if *count <= self.max_rate {
            return true;
        }
        if *count == self.max_rate + 1 {
            let err = PusherError::MessageRateExceeded {
                limit: self.max_rate,
            };
            self.shard.stats().error(err.code());
            self.outbox.send(text_frame(&pusher::error_for(&err)));
        }
        false
    }

    /// Records client activity: the idle clock restarts and an outstanding ping is answered.
    fn touch(&self) {
        if let Some(conn) = self.shard.conns.borrow_mut().get_mut(self.key) {
            conn.last_seen = Instant::now();
            conn.ping_sent = None;
        }
    }
}
