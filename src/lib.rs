//! ringcast: a thread-per-core io_uring server for the Pusher Channels protocol v7.
//!
//! Map of the crate:
//! - [`proto`]: sans-IO protocol logic (WebSocket codec, HTTP heads, Pusher messages, REST
//!   signing). No sockets, no clocks: bytes and `now` in, bytes out.
//! - [`shard`]: the monoio shell. One shard per core owns its listener, connections, channel
//!   index and buffers; shards talk only through [`ring`].
//! - [`ring`]: lock-free SPSC rings and doorbells between cores.
//! - [`api`]: the REST handlers (events, channels, users, health, metrics), given to the shards
//!   at [`start`] and reaching them only through [`shard::Port`]; the shard never imports them.
//! - [`tls`]: certificate loading for wss:// and https (rustls).
//! - [`ratelimit`]: per-address connection windows and trusted proxies.
//! - [`config`]: defaults, TOML file and `REVERB_*` / `RINGCAST_*` environment, validated.

#![forbid(unsafe_code)]

pub mod api;
pub mod config;
pub mod proto;
pub mod ratelimit;
pub mod ring;
pub mod shard;
pub mod tls;

use std::sync::Arc;

/// Starts the server: `config.workers` shards, with the REST API in [`api`] answering the HTTP
/// requests that are not WebSocket upgrades. Returns once every listener is bound.
pub fn start(
    config: Arc<config::Config>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<shard::Server, shard::StartError> {
    shard::start(config, tls, api::handle)
}
