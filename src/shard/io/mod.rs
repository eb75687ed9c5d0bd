//! Sockets: accepting connections, reading requests, running WebSocket sessions, queuing and
//! writing frames, TLS, and the outbound HTTP client. This is the only place that awaits I/O
//! on a client's behalf.

pub(crate) mod conn;
pub(crate) mod conn_auth;
pub(crate) mod echo;
pub(crate) mod effects;
pub(crate) mod http_client;
pub(crate) mod http_conn;
pub(crate) mod http_pool;
pub(crate) mod outbox;
pub(crate) mod session;
pub(crate) mod transport;
