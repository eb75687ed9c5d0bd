//! One shard's state: its connections, its channel index and its end of the rings.
//!
//! Everything here is owned by one thread and reached through `Rc<Shard>`; `RefCell` borrows
//! are never held across an `.await`. The only cross-thread pieces are the ring endpoint and
//! the process-wide counters in [`Shared`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use monoio::io::Canceller;
use slab::Slab;

use super::channels::ChannelIndex;
use super::outbox::Outbox;
use crate::config::Config;
use crate::proto::pusher::SocketId;
use crate::ring::Endpoint;

/// A message between cores.
pub enum CoreMsg {
    /// Deliver an encoded event frame to the local subscribers of a channel.
    Publish {
        /// Index of the app in `Config::apps`.
        app: usize,
        /// Channel name.
        channel: Arc<str>,
        /// The complete WebSocket frame, the same bytes for every subscriber.
        frame: Bytes,
        /// A connection that must not receive it (REST `socket_id`).
        except: Option<SocketId>,
    },
}

/// Counters every shard writes for its own slot and anyone may read (health, metrics).
pub struct Shared {
    /// Open WebSocket connections, per shard.
    pub connections: Vec<AtomicU64>,
}

impl Shared {
    /// Zeroed counters for `shards` shards.
    pub fn new(shards: usize) -> Arc<Self> {
        Arc::new(Shared {
            connections: (0..shards).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    /// Open WebSocket connections across all shards.
    pub fn total_connections(&self) -> u64 {
        self.connections
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

/// A WebSocket connection as its shard knows it.
pub struct Conn {
    /// Index of the app in `Config::apps`.
    pub app: usize,
    /// The id announced in `pusher:connection_established`.
    pub socket_id: SocketId,
    /// Where frames for this connection go.
    pub outbox: Rc<Outbox>,
    /// Channels this connection subscribes to (names shared with the channel index).
    pub channels: Vec<Rc<str>>,
    /// When the client last sent anything.
    pub last_seen: Instant,
    /// When the server sent `pusher:ping` without an answer yet.
    pub ping_sent: Option<Instant>,
    /// When the server decided to close this connection.
    pub closing_since: Option<Instant>,
    /// Cancels the reader's pending read, which ends the connection task.
    pub canceller: Option<Canceller>,
}

/// Everything one core owns.
pub struct Shard {
    /// This shard's index (also its core when pinned).
    pub id: usize,
    /// The validated configuration.
    pub config: Arc<Config>,
    /// Process-wide counters.
    pub shared: Arc<Shared>,
    /// Open WebSocket connections on this shard.
    pub conns: RefCell<Slab<Conn>>,
    /// Local subscribers per channel.
    pub channels: RefCell<ChannelIndex>,
    /// This shard's end of the rings.
    pub ring: RefCell<Endpoint<CoreMsg>>,
    next_socket: Cell<u64>,
}

impl Shard {
    /// A shard with no connections yet.
    pub fn new(config: Arc<Config>, shared: Arc<Shared>, ring: Endpoint<CoreMsg>) -> Rc<Self> {
        Rc::new(Shard {
            id: ring.index(),
            channels: RefCell::new(ChannelIndex::new(config.apps.len())),
            config,
            shared,
            conns: RefCell::new(Slab::new()),
            ring: RefCell::new(ring),
            next_socket: Cell::new(0),
        })
    }

    /// A fresh socket id. The low part is unique per process (it encodes the shard), the high
    /// part is random so ids cannot be guessed from one another.
    pub fn next_socket_id(&self) -> SocketId {
        let n = self.next_socket.get() + 1;
        self.next_socket.set(n);
        let lo = n * self.config.workers as u64 + self.id as u64;
        SocketId::new(fastrand::u64(1..1_000_000_000), lo)
    }

    /// Index of the app whose key is `key`.
    pub fn app_by_key(&self, key: &str) -> Option<usize> {
        self.config.apps.iter().position(|a| a.key == key)
    }

    /// Index of the app whose id is `id`.
    pub fn app_by_id(&self, id: &str) -> Option<usize> {
        self.config.apps.iter().position(|a| a.id == id)
    }

    /// Registers a new connection and counts it.
    pub fn add_conn(&self, conn: Conn) -> usize {
        self.shared.connections[self.id].fetch_add(1, Ordering::Relaxed);
        self.conns.borrow_mut().insert(conn)
    }

    /// Forgets a connection: unsubscribes it everywhere and lets its writer flush what is queued
    /// (a close reply, say) before the socket shuts down.
    pub fn remove_conn(&self, key: usize) {
        let Some(conn) = self.conns.borrow_mut().try_remove(key) else {
            return;
        };
        self.shared.connections[self.id].fetch_sub(1, Ordering::Relaxed);
        let mut index = self.channels.borrow_mut();
        for channel in &conn.channels {
            index.unsubscribe(conn.app, channel, key);
        }
        conn.outbox.close_with(None);
    }
}
