//! A WebSocket connection's driver: the upgrade, the app's admission, then the read loop that
//! feeds bytes to the frame decoder and messages to the connection's Pusher session (whose
//! effects `effects` carries out).
//!
//! The read is cancelable so the sweeper (idle timeouts) can end a session whose peer went
//! silent; that cancel is the only way a session is torn down from outside. Writes go through
//! the connection's [`Outbox`].

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use monoio::buf::IoBufMut;
use monoio::io::{CancelableAsyncReadRent, Canceller, Splitable};

use super::conn::Link;
use super::effects::{self, refuse};
use super::outbox::Outbox;
use super::transport::Transport;
use crate::proto::auth::Identity;
use crate::proto::http::{self, RequestHead, Response};
use crate::proto::pusher::session::{self, Input, Session};
use crate::proto::pusher::{close_frame, PusherError};
use crate::proto::ws::{self, Decoder, Message, Opcode, Role};
use crate::shard::cores::fanout::catch_up;
use crate::shard::model::stats::ShardStats;
use crate::shard::state::{Conn, Shard};

/// Runs one WebSocket connection to its end.
pub async fn run(
    shard: Rc<Shard>,
    mut link: Link,
    head: RequestHead,
    leftover: BytesMut,
    peer: SocketAddr,
    identity: Option<Identity>,
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
    let rules = shard.rules[app].clone();
    let (auth_user, claims) = match identity {
        Some(id) => (Some(id.user), id.claims),
        None => (None, Arc::new(serde_json::Value::Null)),
    };
    let key = shard.add_conn(Conn {
        app,
        claims,
        session: Session::new(rules, socket_id, auth_user, shard.now()),
        outbox: outbox.clone(),
        closing_since: None,
        canceller: Some(canceller),
    });
    effects::feed(&shard, key, Input::Open);
    let max = shard.config.apps[app].max_message_size;
    let mut driver = Driver {
        shard: &shard,
        key,
        outbox: &outbox,
        decoder: Decoder::new(Role::Server, max),
    };
    driver.read_loop(reader, leftover, cancel, transport).await;
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

/// Picks the app from `/app/{key}`, applies the session's handshake rules and counts the
/// connection against the app's quota.
fn admit(shard: &Shard, head: &RequestHead) -> Result<usize, PusherError> {
    let key = head.path.trim_start_matches("/app/").trim_end_matches('/');
    let app = shard.app_by_key(key).ok_or(PusherError::AppNotFound)?;
    let config = &shard.config.apps[app];
    let params = http::parse_query(&head.query).unwrap_or_default();
    session::check_handshake(
        &config.allowed_origins,
        head.header("origin"),
        http::query_value(&params, "protocol"),
    )?;
    if !shard
        .shared
        .admit_app_connection(app, config.max_connections)
    {
        return Err(PusherError::OverConnectionQuota);
    }
    Ok(app)
}

/// Reads one connection's bytes and hands its messages on.
struct Driver<'a> {
    shard: &'a Rc<Shard>,
    key: usize,
    outbox: &'a Rc<Outbox>,
    decoder: Decoder,
}

impl Driver<'_> {
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
            if !matches!(msg, Message::Close(_)) && !effects::admit_message(self.shard, self.key) {
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
                    // The decoder guarantees text messages are valid UTF-8.
                    if let Ok(text) = std::str::from_utf8(&text) {
                        effects::feed(self.shard, self.key, Input::Text(text));
                    }
                }
                Message::Binary(_) => {
                    effects::feed(self.shard, self.key, Input::Binary);
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

    /// Records client activity: the idle clock restarts and an outstanding ping is answered.
    fn touch(&self) {
        if let Some(conn) = self.shard.conns.borrow_mut().get_mut(self.key) {
            conn.session.seen(self.shard.now());
        }
    }
}
