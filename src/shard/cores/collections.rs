//! Filtered collection subscriptions between cores: registering a socket's filter on the core
//! that holds the socket, and delivering record changes to every core with subscribers.
//!
//! A socket id encodes its core (`lo % workers`, see `Shard::next_socket_id`), so a
//! registration goes straight there as one ring message and the REST request waits for the
//! answer. A change is serialized once where it is ingested and shared by reference; each core
//! with subscribers of the collection's channel asks its index for candidates, evaluates only
//! those, and encodes each distinct event (`created` / `updated` / `deleted`) at most once.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use serde_json::Value;

use super::fanout::queue_frame;
use super::gather::{self, Reply};
use super::owner::send;
use super::records_relay;
use crate::proto::api::realtime::RealtimeError;
use crate::proto::api::records::RecordChange;
use crate::proto::auth;
use crate::proto::filter::{Action, Change, Delivery};
use crate::proto::pusher::{self, SocketId};
use crate::shard::io::conn::unix_now;
use crate::shard::io::conn_auth::sanctum_user;
use crate::shard::model::collections::{Announcement, Routed};
use crate::shard::model::sanctum_cache::{self, Verdict};
use crate::shard::model::stats::ShardStats;
use crate::shard::state::{Conn, CoreMsg, Shard};

/// A request to register a socket's filter, carried to the socket's core.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The app a signed request was signed for; `None` for a Bearer token (the socket's app).
    pub app: Option<usize>,
    /// The socket to register.
    pub socket_id: SocketId,
    /// The collection.
    pub collection: String,
    /// The client's filter text.
    pub filter: Option<String>,
    /// The Bearer token, which must name the socket's authenticated user.
    pub token: Option<String>,
    /// The user a Sanctum token was introspected as by the asking core, when the socket's
    /// core had no cached verdict for it.
    pub introspected: Option<Arc<str>>,
}

/// One change on its way to the cores, serialized once.
#[derive(Debug)]
pub struct SharedChange {
    /// The collection's channel, `{prefix}{collection}`.
    pub channel: String,
    /// Where the collection's name starts in `channel`.
    collection_at: usize,
    /// What happened.
    pub action: Action,
    /// The record (as it was, for a delete).
    pub record: Value,
    /// The record before an update.
    pub previous: Option<Value>,
    /// `record`'s JSON text escaped as the inside of a JSON string literal, spliced into every
    /// delivered event's data string: serialized and escaped once per change, in one pass.
    pub record_escaped: String,
}

impl SharedChange {
    /// `change` on its way to the cores, on the channel of its collection under `prefix`,
    /// serialized once.
    pub fn new(prefix: &str, change: RecordChange) -> Self {
        let mut escaped = Vec::with_capacity(256);
        // Serializing a `Value` into memory cannot fail, and escaping ASCII bytes keeps UTF-8.
        let _ = serde_json::to_writer(Escaping(&mut escaped), &change.record);
        let mut channel = String::with_capacity(prefix.len() + change.collection.len());
        channel.push_str(prefix);
        channel.push_str(&change.collection);
        SharedChange {
            channel,
            collection_at: prefix.len(),
            action: change.action,
            record: change.record,
            previous: change.previous,
            record_escaped: String::from_utf8(escaped).unwrap_or_default(),
        }
    }

    /// The collection.
    pub fn collection(&self) -> &str {
        self.channel.get(self.collection_at..).unwrap_or_default()
    }

    /// The change as filters read it.
    pub fn view(&self) -> Change<'_> {
        Change {
            action: self.action,
            record: &self.record,
            previous: self.previous.as_ref(),
        }
    }
}

/// Writes JSON text as the inside of a JSON string literal. Serialized JSON holds no raw
/// control character (the serializer escapes them within strings and writes no whitespace),
/// so `"` and `\` are the only bytes to escape.
struct Escaping<'a>(&'a mut Vec<u8>);

impl std::io::Write for Escaping<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for &b in buf {
            if b == b'"' || b == b'\\' {
                self.0.push(b'\\');
            }
            self.0.push(b);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Registers `reg` on the socket's core and answers the channel name to subscribe to. A
/// Sanctum token the socket's core holds no verdict for is introspected here (the app is
/// known only once that core answered), then the registration is asked again.
pub async fn subscribe(shard: &Rc<Shard>, mut reg: Registration) -> Result<String, RealtimeError> {
    let app = match ask_register(shard, &reg).await {
        Err(RealtimeError::SanctumUnverified(app)) => app,
        done => return done,
    };
    let token = reg.token.take().unwrap_or_default();
    let identity = sanctum_user(shard, app, &token)
        .await
        .map_err(|e| RealtimeError::Unauthorized(format!("the Bearer token is refused: {e}")))?;
    reg.introspected = Some(identity.user);
    ask_register(shard, &reg).await
}

async fn ask_register(shard: &Rc<Shard>, reg: &Registration) -> Result<String, RealtimeError> {
    let core = (reg.socket_id.lo % shard.config.workers as u64) as usize;
    if core == shard.id {
        return register_here(shard, reg);
    }
    let reg = Arc::new(reg.clone());
    let replies = gather::ask(shard, std::iter::once(core), |from, id, _| {
        CoreMsg::Register {
            from,
            id,
            reg: reg.clone(),
        }
    })
    .await;
    match replies.and_then(|mut r| r.pop()) {
        Some(Reply::Registered(result)) => result,
        _ => Err(RealtimeError::Unavailable),
    }
}

/// The socket's core: registers and answers the asking core.
pub fn on_register(shard: &Shard, from: usize, id: usize, reg: &Registration) {
    let part = Reply::Registered(register_here(shard, reg));
    send(shard, from, CoreMsg::Answer { id, part });
}

fn register_here(shard: &Shard, reg: &Registration) -> Result<String, RealtimeError> {
    let unknown = || RealtimeError::UnknownSocket(reg.socket_id.to_string());
    let key = shard.conn_by_socket(reg.socket_id).ok_or_else(unknown)?;
    let mut conns = shard.conns.borrow_mut();
    let conn = conns.get_mut(key).ok_or_else(unknown)?;
    if reg.app.is_some_and(|app| app != conn.app) {
        return Err(unknown());
    }
    if let Some(token) = &reg.token {
        check_token(shard, conn.app, token, conn.session.auth_user())?;
    }
    if let Some(user) = &reg.introspected {
        same_user(user, conn.session.auth_user())?;
    }
    let app = &shard.config.apps[conn.app];
    let announcement = shard.collections.borrow_mut().register(
        conn.app,
        &reg.collection,
        key,
        reg.filter.as_deref(),
        &conn.claims,
    )?;
    announce(shard, conn.app, announcement);
    let channel = format!("{}{}", app.realtime_prefix, reg.collection);
    conn.session.register_collection(&channel);
    Ok(channel)
}

/// The Bearer token must be valid for the app and name the socket's authenticated user.
fn check_token(
    shard: &Shard,
    app: usize,
    token: &str,
    socket_user: Option<&str>,
) -> Result<(), RealtimeError> {
    let config = &shard.config.apps[app];
    let mode = config.connection_auth;
    let user = if mode.verifies_as_jwt(token) {
        let now = i64::try_from(unix_now()).unwrap_or(i64::MAX);
        auth::verify_jwt(token, config.secret.as_bytes(), now)
            .map_err(|e| RealtimeError::Unauthorized(format!("the Bearer token is refused: {e}")))?
            .user_id
    } else if mode.sanctum() {
        // The socket's core verified this token when the socket connected; its verdict is
        // still cached there for `sanctum_cache_ttl`.
        match sanctum_cache::with(|c| c.get(app, token, Instant::now())) {
            Some(Verdict::User(identity)) => identity.user.to_string(),
            Some(Verdict::Rejected) => {
                return Err(RealtimeError::Unauthorized(
                    "the Sanctum token was rejected by the app".into(),
                ))
            }
            None => return Err(RealtimeError::SanctumUnverified(app)),
        }
    } else {
        return Err(RealtimeError::Unauthorized(
            "this app has no connection authentication: sign the request like the Pusher REST API instead".into(),
        ));
    };
    same_user(&user, socket_user)
}

fn same_user(user: &str, socket_user: Option<&str>) -> Result<(), RealtimeError> {
    match socket_user {
        Some(socket_user) if socket_user == user => Ok(()),
        _ => Err(RealtimeError::Unauthorized(format!(
            "the token's user '{user}' is not the authenticated user of this socket"
        ))),
    }
}

/// The connection joined (`on`) or left a channel: a collection channel (de)activates its
/// registration.
pub fn joined(shard: &Shard, app: usize, channel: &str, key: usize, on: bool) {
    let config = &shard.config.apps[app];
    if config.collections.is_empty() {
        return;
    }
    if let Some(collection) = channel.strip_prefix(config.realtime_prefix.as_str()) {
        let announcement = shard
            .collections
            .borrow_mut()
            .set_active(app, collection, key, on);
        announce(shard, app, announcement);
    }
}

/// Tells every other core what changed among this core's active filters, so that their
/// routes send changes here exactly when they reach someone (one ring message per core and
/// announcement; the ring keeps each core's announcements in order).
pub fn announce(shard: &Shard, app: usize, announcements: impl IntoIterator<Item = Announcement>) {
    for announcement in announcements {
        let announcement = Arc::new(announcement);
        for dst in (0..shard.config.workers).filter(|&d| d != shard.id) {
            let msg = CoreMsg::Route {
                app,
                core: shard.id,
                announcement: announcement.clone(),
            };
            send(shard, dst, msg);
        }
    }
}

/// Another core's announcement, into this core's routes.
pub fn on_route(shard: &Shard, app: usize, core: usize, announcement: &Announcement) {
    shard
        .collections
        .borrow_mut()
        .apply(app, core, announcement);
}

/// Delivers `changes` here and on every other core with subscribers of their channels: one
/// ring message per core for the whole batch, in order. With scaling on they also go to the
/// other nodes (see [`records_relay`]).
pub fn publish(shard: &Shard, app: usize, changes: Vec<RecordChange>, except: Option<SocketId>) {
    let changes = share(shard, app, changes);
    if shard.config.scaling.is_some() {
        records_relay::forward(shard, app, &changes, except);
    }
    fan_out(shard, app, changes, except);
}

/// Another node's changes, delivered on this node's cores only (never forwarded again).
pub fn publish_remote(
    shard: &Shard,
    app: usize,
    changes: Vec<RecordChange>,
    except: Option<SocketId>,
) {
    fan_out(shard, app, share(shard, app, changes), except);
}

/// The changes as the cores share them: each record serialized once, here.
fn share(shard: &Shard, app: usize, changes: Vec<RecordChange>) -> Arc<[SharedChange]> {
    let prefix = &shard.config.apps[app].realtime_prefix;
    changes
        .into_iter()
        .map(|change| SharedChange::new(prefix, change))
        .collect()
}

/// Deliveries routed to one core: each change's index in the batch, and the delivery.
pub type Routes = Vec<(u32, Routed)>;

/// Delivers the batch on this core and on the others. Every filter is evaluated once, here:
/// this core's own as it delivers, the other cores' through its routes, and each other core
/// that has deliveries gets the batch with its list (one ring message per core), sent before
/// this core delivers its own. With the index off (the naive baseline), every core with
/// subscribers of the channels gets the batch and evaluates its own subscribers.
fn fan_out(shard: &Shard, app: usize, changes: Arc<[SharedChange]>, except: Option<SocketId>) {
    let published = Instant::now();
    let workers = shard.config.workers;
    let mut routes: Vec<Routes> = Vec::new();
    let routed = {
        let collections = shard.collections.borrow();
        changes.iter().enumerate().all(|(i, c)| {
            collections.route(app, c.collection(), &c.view(), |r| {
                if routes.is_empty() {
                    routes.resize_with(workers, Vec::new);
                }
                routes[r.core].push((i as u32, r));
            })
        })
    };
    let records = |routes| CoreMsg::Records {
        app,
        changes: changes.clone(),
        except,
        published,
        routes,
    };
    if routed {
        for (dst, list) in routes.into_iter().enumerate() {
            if !list.is_empty() && dst != shard.id {
                send(shard, dst, records(Some(list)));
            }
        }
    } else {
        let interest = shard.interest.borrow();
        let cores = changes
            .iter()
            .fold(0, |cores, c| cores | interest.cores(app, &c.channel));
        drop(interest);
        for dst in (0..workers).filter(|&d| d != shard.id && cores & (1 << d) != 0) {
            send(shard, dst, records(None));
        }
    }
    deliver_local(shard, app, &changes, except, published);
}

/// Another core's batch: the deliveries its routes found here, or (`None`, the index off)
/// every subscriber here evaluated.
pub fn on_records(
    shard: &Shard,
    app: usize,
    changes: &[SharedChange],
    except: Option<SocketId>,
    published: Instant,
    routes: Option<&[(u32, Routed)]>,
) {
    match routes {
        Some(routes) => deliver_routed(shard, app, changes, except, published, routes),
        None => deliver_local(shard, app, changes, except, published),
    }
}

/// The deliveries another core routed here, each confirmed against the subscriber's current
/// registration; each distinct frame of a change encoded once.
fn deliver_routed(
    shard: &Shard,
    app: usize,
    changes: &[SharedChange],
    except: Option<SocketId>,
    published: Instant,
    routes: &[(u32, Routed)],
) {
    let conns = shard.conns.borrow();
    let collections = shard.collections.borrow();
    let mut frames: [Option<Bytes>; 3] = Default::default();
    let mut current = None;
    let mut delivered = 0;
    for (i, routed) in routes {
        let Some(change) = changes.get(*i as usize) else {
            continue;
        };
        if current != Some(*i) {
            frames = Default::default();
            current = Some(*i);
        }
        let Some(d) = collections.confirm(app, change.collection(), routed, &change.view()) else {
            continue;
        };
        if let Some(conn) = conns.get(routed.conn) {
            delivered += queue_delivery(shard, conn, except, &mut frames, change, d);
        }
    }
    count_delivered(shard, delivered, published);
}

/// This core's subscribers of each change, in order.
pub fn deliver_local(
    shard: &Shard,
    app: usize,
    changes: &[SharedChange],
    except: Option<SocketId>,
    published: Instant,
) {
    for change in changes {
        deliver_one(shard, app, change, except, published);
    }
}

/// This core's subscribers of one change: candidates evaluated, each distinct frame encoded
/// once. Frames are queued as the index finds their subscribers, with no list in between
/// (queueing never touches the collections, so their borrow can stay open).
fn deliver_one(
    shard: &Shard,
    app: usize,
    change: &SharedChange,
    except: Option<SocketId>,
    published: Instant,
) {
    let view = change.view();
    let mut frames: [Option<Bytes>; 3] = Default::default();
    let conns = shard.conns.borrow();
    let mut delivered = 0;
    shard
        .collections
        .borrow()
        .deliveries(app, change.collection(), &view, |key, d| {
            if let Some(conn) = conns.get(key) {
                delivered += queue_delivery(shard, conn, except, &mut frames, change, d);
            }
        });
    count_delivered(shard, delivered, published);
}

/// Queues `change`'s frame for `d` to `conn`, unless it is the excluded socket; each of a
/// change's frames (`created` / `updated` / `deleted`) is encoded once, into `frames`. How
/// many frames were queued: 0 or 1.
fn queue_delivery(
    shard: &Shard,
    conn: &Conn,
    except: Option<SocketId>,
    frames: &mut [Option<Bytes>; 3],
    change: &SharedChange,
    d: Delivery,
) -> usize {
    if except == Some(conn.session.socket_id()) {
        return 0;
    }
    let frame = frames[d as usize].get_or_insert_with(|| encode(change, d));
    usize::from(queue_frame(shard, conn, frame))
}

/// Counts a pass's queued frames, and its latency since the change was accepted.
fn count_delivered(shard: &Shard, delivered: usize, published: Instant) {
    if delivered > 0 {
        let stats = shard.stats();
        ShardStats::add(&stats.messages_out, delivered as u64);
        stats.latency(published.elapsed());
    }
}

/// The event frame of `d`: payload `{"action": …, "record": …}` as the event's data string,
/// its literal put together from the record's escaped JSON (the event names need no escaping)
/// in one buffer of the right size.
fn encode(change: &SharedChange, d: Delivery) -> Bytes {
    let data = [
        r#""{\"action\":\""#,
        d.event(),
        r#"\",\"record\":"#,
        &change.record_escaped,
        r#"}""#,
    ];
    pusher::channel_event_frame(d.event(), &change.channel, &data, None)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::proto::ws::{Decoder, Message, Role};

    #[test]
    fn a_delivery_is_the_event_with_action_and_record_as_its_data_string() {
        let record =
            json!({"id": 7, "title": "a \"quoted\" title", "note": "line\nbreak, \\ and é"});
        let change = SharedChange::new(
            "velo.realtime.",
            RecordChange {
                collection: "posts".into(),
                action: Action::Updated,
                record: record.clone(),
                previous: None,
            },
        );
        // A leave: the update is delivered as `deleted`, the payload's action says so too.
        let frame = encode(&change, Delivery::Deleted);
        let mut buf = bytes::BytesMut::from(&frame[..]);
        let msg: Value = match Decoder::new(Role::Client, 1 << 20).decode(&mut buf) {
            Ok(Some(Message::Text(text))) => serde_json::from_slice(&text).unwrap(),
            other => panic!("not one text frame: {other:?}"),
        };
        assert_eq!(msg["event"], "deleted");
        assert_eq!(msg["channel"], "velo.realtime.posts");
        assert_eq!(change.collection(), "posts");
        let data: Value = serde_json::from_str(msg["data"].as_str().unwrap()).unwrap();
        assert_eq!(data, json!({"action": "deleted", "record": record}));
    }

    #[test]
    fn the_escaped_record_is_the_inside_of_its_json_text_as_a_string_literal() {
        let records = [
            json!({}),
            json!({"a": "quote \" backslash \\ slash /", "b": [1, 2.5, null, true]}),
            json!({"control": "\u{0}\u{1f}\t\r\n", "unicode": "é 中 \u{2028} 🎉"}),
            json!({"nested": {"deep": [{"x": "\\\""}]}, "n": -0.0, "big": 1e300}),
        ];
        for record in records {
            let change = SharedChange::new(
                "",
                RecordChange {
                    collection: "c".into(),
                    action: Action::Created,
                    record: record.clone(),
                    previous: None,
                },
            );
            let literal = serde_json::to_string(&record.to_string()).unwrap();
            assert_eq!(
                change.record_escaped,
                literal[1..literal.len() - 1],
                "{record}"
            );
        }
    }
}
