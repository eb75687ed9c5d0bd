//! The broker layer's one error type: what went wrong between this node and Redis, worded so
//! the operator knows which setting or server to look at. Never carries the password.

use std::fmt;

/// Why a broker operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerError {
    /// No TCP connection to `address` (refused, unresolvable, or no answer within the timeout).
    Unreachable {
        /// `host:port` that was tried.
        address: String,
        /// What the operating system (or the timer) said.
        reason: String,
    },
    /// `rediss://`: the TLS session could not be set up (trust, certificate, handshake).
    Tls {
        /// `host:port` of the server.
        address: String,
        /// What rustls or the CA file said.
        reason: String,
    },
    /// Redis refused `AUTH` (wrong user or password), or wants one and none is configured.
    Auth {
        /// `host:port` of the server that refused.
        address: String,
        /// Redis's own error line.
        message: String,
    },
    /// Redis refused `SELECT` of the configured database.
    Select {
        /// The database number asked for.
        db: u32,
        /// Redis's own error line.
        message: String,
    },
    /// An established connection broke (reset, closed by the server, or a write failed).
    Lost {
        /// `host:port` of the connection.
        address: String,
        /// What broke it.
        reason: String,
    },
    /// The link is down and waits for its next reconnect attempt; the event was not sent and
    /// was counted as unpublished.
    Down {
        /// `host:port` the link reconnects to.
        address: String,
    },
    /// Redis answered a command with an error line.
    Command(String),
    /// Bytes from Redis that are not RESP, or a reply of an unexpected shape.
    Protocol(String),
    /// A message on the scaling channel that is not a ringcast envelope of this version.
    Envelope(String),
}

impl fmt::Display for BrokerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BrokerError::Unreachable { address, reason } => write!(
                f,
                "cannot reach Redis at {address}: {reason} (check REDIS_URL or \
                 REDIS_HOST/REDIS_PORT, and that Redis is running)"
            ),
            BrokerError::Tls { address, reason } => write!(
                f,
                "TLS with Redis at {address} failed: {reason} (RINGCAST_REDIS_CA names the PEM \
                 file of the CA that signed Redis's certificate; else the system bundle is used)"
            ),
            BrokerError::Auth { address, message } => write!(
                f,
                "Redis at {address} refused the login: {message} (check REDIS_USERNAME and \
                 REDIS_PASSWORD, or the user and password in REDIS_URL)"
            ),
            BrokerError::Select { db, message } => write!(
                f,
                "Redis refused database {db}: {message} (check REDIS_DB or the /db in REDIS_URL)"
            ),
            BrokerError::Lost { address, reason } => {
                write!(f, "connection to Redis at {address} lost: {reason}")
            }
            BrokerError::Down { address } => write!(
                f,
                "Redis at {address} is unreachable; the event was not forwarded to other nodes"
            ),
            BrokerError::Command(e) => write!(f, "Redis answered with an error: {e}"),
            BrokerError::Protocol(e) => write!(f, "unexpected data from Redis: {e}"),
            BrokerError::Envelope(e) => write!(f, "unreadable message on the scaling channel: {e}"),
        }
    }
}

impl std::error::Error for BrokerError {}
