//! ringcast: a thread-per-core io_uring server for the Pusher Channels protocol v7.
//!
//! Map of the crate:
//! - [`proto`]: sans-IO protocol logic. No sockets, no clocks: bytes and `now` in, bytes and
//!   decisions out.
//!   - `proto::ws`, `proto::http`: the WebSocket codec and HTTP heads.
//!   - `proto::pusher`: Pusher messages, channel rules, signatures, the error codes
//!     (`PusherError`, the one table of codes sent), and `proto::pusher::session`, one
//!     connection's Pusher rules as a state machine: inputs and the time in, effects out.
//!   - `proto::api`, `proto::auth`: REST request signing and bodies (events, records,
//!     realtime subscribe, notifications, webhook endpoints); connection tokens and their claims.
//!   - `proto::filter`: the collection filter language (PocketBase grammar), compiled once per
//!     subscription and indexed by one equality.
//! - [`shard`]: the monoio shell. One shard per core owns its listener, connections, channel
//!   index and buffers; shards talk only through [`ring`]. It feeds sessions and carries out
//!   their effects, and decides no Pusher rule itself:
//!   - `shard::model`: pure per-core structures (channel index, presence, event cache, stats,
//!     filtered collection subscriptions);
//!   - `shard::io`: accept, the session driver and its effects, outbox, transport, HTTP client;
//!   - `shard::cores`: ring messages, channel owners, the drain task, fan-out, interest,
//!     presence and watchlists across cores, record changes to filtered subscribers,
//!     scatter-gather reads;
//!   - `shard::lifecycle`: the sweeper (session timer ticks) and graceful shutdown.
//! - [`ring`]: lock-free SPSC rings and doorbells between cores.
//! - `api`: the REST handlers (events, channels, users, records, realtime subscribe, health,
//!   metrics), given to the shards at [`start`] and reaching them only through
//!   [`shard::Port`]; the shard never imports them.
//! - [`tls`]: certificate loading for wss:// and https (rustls).
//! - [`ratelimit`]: per-address connection windows and trusted proxies.
//! - [`scheduler`]: the notification scheduler's pure parts (quiet hours, timing wheel, plan).
//! - [`broker`]: the Redis link between nodes (RESP, event envelope, reconnecting pub/sub).
//! - [`config`]: defaults, TOML file and `REVERB_*` / `RINGCAST_*` environment, validated.
//! - [`store`]: durable control-core state (endpoints, deliveries, notifications) behind a
//!   trait; SQLite in WAL mode by default, Redis shared by the nodes when scaling is on.
//! - [`webhook`]: webhook rules without I/O: signing, patterns, bodies, retries, breaker, SSRF.
//! - [`control`]: the control core, one more thread that owns the store and answers the
//!   shards' requests over its own ring mesh; the only place SQL runs.
//! - [`logging`]: the log subscriber: text or JSON lines on stderr, colour only on a terminal.

#![forbid(unsafe_code)]

// Lets unit tests share the integration tests' helpers (the Redis server), which name the
// crate `ringcast`.
#[cfg(test)]
extern crate self as ringcast;

// The sans-IO parts: they build without the `server` feature (the fuzz targets' build).
pub mod proto;
pub mod ratelimit;
pub mod scheduler;
pub mod webhook;

// The server around them.
#[cfg(feature = "server")]
mod api;
#[cfg(feature = "server")]
pub mod broker;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
pub mod control;
#[cfg(feature = "server")]
pub mod logging;
#[cfg(feature = "server")]
pub mod ring;
#[cfg(feature = "server")]
pub mod shard;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "server")]
pub mod tls;

#[cfg(feature = "server")]
use std::sync::Arc;

#[cfg(feature = "server")]
/// Starts the server: `config.workers` shards, with the REST API in `api` answering the HTTP
/// requests that are not WebSocket upgrades. Returns once every listener is bound.
pub fn start(
    config: Arc<config::Config>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<shard::Server, shard::StartError> {
    shard::start(config, tls, api::handle)
}
