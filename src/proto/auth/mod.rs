//! Connection authentication, sans-IO: which token a WebSocket upgrade carries, how a JWT is
//! verified, and what a Sanctum introspection answer means.
//!
//! Nothing here opens a socket or reads a clock: the shard passes the request head, the app
//! secret, `now` and the introspection answer's bytes. The shard side (HTTP client, per-shard
//! cache, the 401 before the upgrade) lives in `shard::conn_auth`.

pub mod error;
mod identity;
pub mod jwt;
pub mod sanctum;
pub mod token;

#[cfg(test)]
mod jwt_tests;

pub use error::AuthError;
pub use identity::Identity;
pub use jwt::{verify_jwt, JWT_LEEWAY_SECS};
pub use token::{bearer_token, TokenKind};
