//! One shard's state: its connections, its channel index and its end of the rings.
//!
//! Everything here is owned by one thread and reached through `Rc<Shard>`; `RefCell` borrows
//! are never held across an `.await`. The only cross-thread pieces are the ring endpoint and
//! the process-wide counters in [`Shared`].

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use monoio::io::Canceller;
use slab::Slab;

use super::port::RestHandler;
use crate::config::{AppConfig, Config};
use crate::control::ControlMsg;
use crate::proto::api::SigningKey;
use crate::proto::pusher::session::{Effect, Input, Millis, Rules, Session, Window};
use crate::proto::pusher::SocketId;
use crate::ratelimit::SlidingWindow;
use crate::ring::{BellHandle, Endpoint};
use crate::shard::cores::collections;
use crate::shard::cores::control::ControlLink;
use crate::shard::cores::gather::Asks;
use crate::shard::io::effects;
use crate::shard::io::outbox::Outbox;
use crate::shard::model::cache::EventCache;
use crate::shard::model::channels::ChannelIndex;
use crate::shard::model::collections::Collections;
use crate::shard::model::interest::Interest;
use crate::shard::model::presence::PresenceRegistry;
use crate::shard::model::stats::ShardStats;
use crate::shard::model::subscription_counts::SubscriptionCounts;
use crate::shard::model::users::UserRegistry;
use crate::webhook::route::Route;

pub use crate::shard::cores::msg::{ChannelFilter, ConnRef, CoreMsg, Query, QueryPart};

/// Counters every shard writes for its own slot and anyone may read (health, metrics).
pub struct Shared {
    /// Open WebSocket connections, per shard.
    pub connections: Vec<AtomicU64>,
    /// Open WebSocket connections, per app (checked against `max_connections` at connect).
    pub app_connections: Vec<AtomicU64>,
    /// Scaling on: per app, the open connections on the other live nodes, as the control core
    /// last read them from Redis (`control::cluster::limits`); zero with scaling off.
    pub app_connections_elsewhere: Vec<AtomicU64>,
    /// Scaling on: the live nodes (this one included) at the last refresh; 1 with scaling off.
    /// The REST event budget is split over them.
    pub cluster_nodes: AtomicU64,
    /// Set once by the main thread when a shutdown signal arrives.
    pub shutting_down: AtomicBool,
    /// Per app: the routes of the webhook endpoints that receive published events. Written by
    /// the control core after each endpoint change (and each refresh of a shared store), read
    /// by the REST publish path, so that an event no endpoint wants never waits for the
    /// control core. Read once per publish, written rarely: an uncontended lock.
    pub webhook_routes: Vec<RwLock<Arc<[Route]>>>,
    /// Per app: the channel webhook event types its active pusher-format endpoints (registered
    /// through the API) receive, as a `webhook::body::kinds_mask`, so the shards hand only those
    /// events to the control core (written like `webhook_apps`).
    pub pusher_endpoint_kinds: Vec<AtomicU16>,
    /// Scaling on: set by the control core while its Redis link is down, read by the REST
    /// publish path, which then answers 503 (see `control::relay`).
    pub broker_down: AtomicBool,
    /// REST events refused (503) because the Redis link was down, for `/metrics`.
    pub unforwarded: AtomicU64,
    /// Events accepted on this node while the Redis link was failing, delivered here but not
    /// forwarded to the other nodes (written by the control core's publisher task).
    pub unpublished: AtomicU64,
    /// Events other nodes published that this node never received (gaps in their sequence
    /// numbers, e.g. while its subscription was reconnecting).
    pub missed_from_nodes: AtomicU64,
    /// Counters per shard, for `/metrics`.
    pub stats: Vec<ShardStats>,
    /// The TLS configuration new connections use; replaced on SIGHUP. Read once per accepted
    /// connection, never on the message path, so an uncontended lock is fine here.
    pub tls: RwLock<Option<Arc<rustls::ServerConfig>>>,
    /// The notification scheduler's figures, written by the control core.
    pub notifications: crate::control::NotifyStats,
    /// The webhook delivery figures, written by the control core.
    pub webhooks: crate::control::WebhookStats,
}

impl Shared {
    /// Zeroed counters for `shards` shards and `apps` apps.
    pub fn new(shards: usize, apps: usize) -> Arc<Self> {
        Arc::new(Shared {
            connections: (0..shards).map(|_| AtomicU64::new(0)).collect(),
            app_connections: (0..apps).map(|_| AtomicU64::new(0)).collect(),
            app_connections_elsewhere: (0..apps).map(|_| AtomicU64::new(0)).collect(),
            cluster_nodes: AtomicU64::new(1),
            shutting_down: AtomicBool::new(false),
            webhook_routes: (0..apps).map(|_| RwLock::new(Arc::from([]))).collect(),
            pusher_endpoint_kinds: (0..apps).map(|_| AtomicU16::new(0)).collect(),
            broker_down: AtomicBool::new(false),
            unforwarded: AtomicU64::new(0),
            unpublished: AtomicU64::new(0),
            missed_from_nodes: AtomicU64::new(0),
            stats: (0..shards).map(|_| ShardStats::default()).collect(),
            tls: RwLock::new(None),
            notifications: crate::control::NotifyStats::new(apps),
            webhooks: crate::control::WebhookStats::default(),
        })
    }

    /// Counts a new connection of `app` unless that would exceed `max` across the cluster
    /// (this node's count plus the other nodes' as last read); false when full.
    pub fn admit_app_connection(&self, app: usize, max: Option<u64>) -> bool {
        let here = self.app_connections[app].fetch_add(1, Ordering::Relaxed) + 1;
        let now = here + self.app_connections_elsewhere[app].load(Ordering::Relaxed);
        if max.is_some_and(|max| now > max) {
            self.app_connections[app].fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Open WebSocket connections across all shards.
    pub fn total_connections(&self) -> u64 {
        self.connections
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

/// A WebSocket connection as its shard knows it: the Pusher session plus what the shell needs
/// to write to it and tear it down.
pub struct Conn {
    /// Index of the app in `Config::apps`.
    pub app: usize,
    /// The verified token's claims (`null` without connection authentication), read by
    /// collection filters as `@request.auth.*`.
    pub claims: Arc<serde_json::Value>,
    /// The connection's Pusher protocol state; every Pusher rule is applied there.
    pub session: Session,
    /// Where frames for this connection go.
    pub outbox: Rc<Outbox>,
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
    /// Each open connection's slab key by its socket id, so a REST request naming a socket
    /// (a collection registration) finds it without scanning every connection.
    pub sockets: RefCell<HashMap<SocketId, usize>>,
    /// Local subscribers per channel.
    pub channels: RefCell<ChannelIndex>,
    /// This shard's end of the rings.
    pub ring: RefCell<Endpoint<CoreMsg>>,
    /// Which other cores have subscribers of which channels.
    pub interest: RefCell<Interest>,
    /// Presence members of the channels this core owns.
    pub presence: RefCell<PresenceRegistry>,
    /// Signed-in users this core owns, with their watchers.
    pub users: RefCell<UserRegistry>,
    /// Filtered collection subscriptions of this core's connections.
    pub collections: RefCell<Collections>,
    /// Last events of the cache channels this core owns.
    pub cache: RefCell<EventCache>,
    /// Per-core subscription counts of the channels this core owns (`subscription_count`).
    pub subscription_counts: RefCell<SubscriptionCounts>,
    /// Per app: the one-second window of REST events accepted here.
    pub backend_events: RefCell<Vec<Window>>,
    /// Per app: the rules its sessions apply, shared by all of them.
    pub rules: Vec<Rc<Rules>>,
    /// Per app: its secret made ready to check REST signatures with.
    pub signing_keys: Vec<SigningKey>,
    /// Effects buffer reused by every session input, so feeding a session does not allocate.
    pub effects: Cell<Vec<Effect>>,
    /// The epoch of the sessions' clock ([`Shard::now`]).
    epoch: Instant,
    /// Connection admissions per address group this core owns.
    pub ip_window: RefCell<SlidingWindow>,
    /// REST reads waiting for other cores' answers.
    pub asks: RefCell<Asks>,
    /// Messages this core sent to itself, handled by its drain task.
    pub self_queue: RefCell<std::collections::VecDeque<CoreMsg>>,
    /// This core's doorbell (to wake the drain task for `self_queue`).
    pub bell: BellHandle,
    /// Cancels the accept loop at shutdown.
    pub accept_cancel: RefCell<Option<Canceller>>,
    /// Answers REST requests (the `api` handlers, given at start).
    pub rest: RestHandler,
    /// This shard's end of the control star.
    pub control: ControlLink,
    next_socket: Cell<u64>,
}

impl Shard {
    /// A shard with no connections yet.
    pub fn new(
        config: Arc<Config>,
        shared: Arc<Shared>,
        ring: Endpoint<CoreMsg>,
        control: Endpoint<ControlMsg>,
        rest: RestHandler,
    ) -> Rc<Self> {
        let apps = config.apps.len();
        let bell = ring.bell();
        let cache = EventCache::new(
            config
                .apps
                .iter()
                .map(|a| Duration::from_secs(a.cache_ttl.into())),
        );
        let ip_window = SlidingWindow::new(
            config.max_connections_per_ip_per_minute,
            std::time::Duration::from_secs(60),
        );
        Rc::new(Shard {
            id: ring.index(),
            channels: RefCell::new(ChannelIndex::new(apps)),
            shared,
            conns: RefCell::new(Slab::new()),
            sockets: RefCell::new(HashMap::new()),
            ring: RefCell::new(ring),
            interest: RefCell::new(Interest::new(apps)),
            presence: RefCell::new(PresenceRegistry::new(apps)),
            users: RefCell::new(UserRegistry::new(apps)),
            cache: RefCell::new(cache),
            subscription_counts: RefCell::new(SubscriptionCounts::default()),
            collections: RefCell::new(Collections::new(&config.apps)),
            backend_events: RefCell::new(vec![Window::new(Millis(0)); apps]),
            rules: config.apps.iter().map(|a| Rc::new(rules_of(a))).collect(),
            signing_keys: config
                .apps
                .iter()
                .map(|a| SigningKey::new(&a.secret))
                .collect(),
            effects: Cell::new(Vec::new()),
            epoch: Instant::now(),
            ip_window: RefCell::new(ip_window),
            asks: RefCell::new(Asks::default()),
            self_queue: RefCell::new(std::collections::VecDeque::new()),
            bell,
            accept_cancel: RefCell::new(None),
            rest,
            control: ControlLink::new(control),
            config,
            next_socket: Cell::new(0),
        })
    }

    /// Takes `n` REST events from the app's per-second budget. The app's limit is split evenly
    /// over the cores of every live node (each REST request is handled wholly by the core that
    /// accepted it), so no core asks another, nor Redis, on the publish path. False when over
    /// the budget.
    pub fn take_backend_budget(&self, app: usize, n: u32) -> bool {
        let limit = self.config.apps[app].max_backend_events_per_second;
        if limit == 0 {
            return true;
        }
        let nodes = self.shared.cluster_nodes.load(Ordering::Relaxed).max(1);
        let cores = (self.config.workers as u64).saturating_mul(nodes);
        let share = limit.div_ceil(u32::try_from(cores).unwrap_or(u32::MAX));
        self.backend_events.borrow_mut()[app].take(self.now(), n, share)
    }

    /// Now on the sessions' clock: milliseconds since this shard started.
    pub fn now(&self) -> Millis {
        Millis(self.epoch.elapsed().as_millis() as u64)
    }

    /// The TLS configuration for a connection accepted now (`None`: plain TCP).
    pub fn tls_config(&self) -> Option<Arc<rustls::ServerConfig>> {
        self.shared.tls.read().ok().and_then(|t| t.clone())
    }

    /// This shard's counters.
    pub fn stats(&self) -> &ShardStats {
        &self.shared.stats[self.id]
    }

    /// A fresh socket id. The low part is unique per process (it encodes the shard), the high
    /// part is random so ids cannot be guessed from one another.
    pub fn next_socket_id(&self) -> SocketId {
        let n = self.next_socket.get() + 1;
        self.next_socket.set(n);
        let lo = n * self.config.workers as u64 + self.id as u64;
        SocketId::new(fastrand::u64(1..1_000_000_000), lo)
    }

    /// This connection's address for replies from other cores.
    pub fn conn_ref(&self, key: usize, socket_id: SocketId) -> ConnRef {
        ConnRef {
            core: self.id,
            key,
            socket_id,
        }
    }

    /// Runs `f` on the connection `conn` names, if it is still open (slab keys are reused, so
    /// the socket id must match too).
    pub fn with_live_conn<R>(&self, conn: ConnRef, f: impl FnOnce(&Conn) -> R) -> Option<R> {
        let conns = self.conns.borrow();
        conns
            .get(conn.key)
            .filter(|c| c.session.socket_id() == conn.socket_id)
            .map(f)
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
        let socket_id = conn.session.socket_id();
        let key = self.conns.borrow_mut().insert(conn);
        self.sockets.borrow_mut().insert(socket_id, key);
        key
    }

    /// The slab key of the open connection `socket_id`, if it is on this shard.
    pub fn conn_by_socket(&self, socket_id: SocketId) -> Option<usize> {
        self.sockets.borrow().get(&socket_id).copied()
    }

    /// Forgets a connection: its session undoes its subscriptions and sign-in everywhere, and
    /// its writer flushes what is queued (a close reply, say) before the socket shuts down.
    pub fn remove_conn(&self, key: usize) {
        let Some(mut conn) = self.conns.borrow_mut().try_remove(key) else {
            return;
        };
        self.sockets.borrow_mut().remove(&conn.session.socket_id());
        self.shared.connections[self.id].fetch_sub(1, Ordering::Relaxed);
        self.shared.app_connections[conn.app].fetch_sub(1, Ordering::Relaxed);
        effects::run(self, key, &mut conn, Input::Closed);
        // Registrations whose channel was never subscribed have no `Leave` to undo them.
        let dropped = self.collections.borrow_mut().remove_conn(conn.app, key);
        collections::announce(self, conn.app, dropped);
        conn.outbox.close_with(None);
    }
}

/// The session rules of one app's configuration.
fn rules_of(app: &AppConfig) -> Rules {
    Rules {
        key: app.key.clone(),
        secret: app.secret.clone(),
        activity_timeout: app.activity_timeout,
        ping_interval: app.ping_interval,
        signin_timeout: app.user_authentication_timeout,
        max_subscriptions: app.max_subscriptions_per_connection,
        max_messages_per_second: app.max_messages_per_second,
        client_events: app.enable_client_messages,
        max_client_events_per_second: app.max_client_events_per_second,
        collection_prefix: match app.collections.is_empty() {
            true => String::new(),
            false => app.realtime_prefix.clone(),
        },
    }
}
