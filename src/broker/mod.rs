//! The broker link: how ringcast nodes reach each other through Redis pub/sub.
//!
//! Sans-IO parts (no socket, no clock, no monoio): [`resp`] (RESP2 commands and replies,
//! framed by the `redis-protocol` crate), [`envelope`] (the event message between nodes, its
//! origin and sequence), [`backoff`] (reconnect delays), [`heartbeat`] (node liveness keys
//! and sweeps), [`tls`] (the rustls session for `rediss://`). The monoio parts stay thin: [`link`] (one connection), [`publisher`] and
//! [`subscriber`] (one connection each, reconnecting), [`liveness`] (beats and sweeps).
//!
//! Nothing here is started unless scaling is enabled in the configuration; this module
//! never reads the configuration itself, it is handed a [`RedisTarget`].

pub mod backoff;
pub mod envelope;
mod error;
pub mod heartbeat;
pub mod link;
pub mod liveness;
pub mod publisher;
pub mod resp;
pub mod subscriber;
pub mod tls;

pub use backoff::Backoff;
pub use envelope::{Envelope, Event};
pub use error::BrokerError;
pub use link::{Connection, LinkOptions};
pub use publisher::{PublishStats, Publisher};
pub use subscriber::{SubscribeStats, Subscriber};

use crate::config::RedisTarget;

/// The startup check: connects to `target`, logs in and PINGs, within the connect timeout.
/// Its error names the address (and what to change), for a node that must not start
/// without Redis.
pub async fn check(target: &RedisTarget, options: &LinkOptions) -> Result<(), BrokerError> {
    Connection::open(target, options.connect_timeout)
        .await
        .map(drop)
}
