//! ringcast: a thread-per-core io_uring server for the Pusher Channels protocol v7.
//!
//! Map of the crate:
//! - [`proto`]: sans-IO protocol logic (WebSocket codec, HTTP heads, Pusher messages, REST
//!   signing). No sockets, no clocks: bytes and `now` in, bytes out.
//! - [`shard`]: the monoio shell. One shard per core owns its listener, connections, channel
//!   index and buffers; shards talk only through [`ring`].
//! - [`ring`]: lock-free SPSC rings and doorbells between cores.
//! - [`api`]: the REST handlers (events, health) on top of a shard.
//! - [`tls`]: certificate loading for wss:// and https (rustls).
//! - [`ratelimit`]: per-address connection windows and trusted proxies.
//! - [`scheduler`]: the notification scheduler's pure parts (quiet hours, timing wheel, plan).
//! - [`broker`]: the Redis link between nodes (RESP, event envelope, reconnecting pub/sub).
//! - [`config`]: defaults, TOML file and `REVERB_*` / `RINGCAST_*` environment, validated.

pub mod api;
pub mod broker;
pub mod config;
pub mod proto;
pub mod ratelimit;
pub mod ring;
pub mod scheduler;
pub mod shard;
pub mod tls;
