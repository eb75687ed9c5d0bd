//! The store layer's error: what can go wrong reading or writing durable state.
//!
//! `NotFound`, and `Conflict` or `ReadOnly`, are answers a caller turns into 404 and 409;
//! `Duplicate` means an id was reused; `Corrupt`, `NewerSchema` and `Backend` are operator
//! problems whose text says which file or setting to look at. It never wraps a network error of a delivery.

use std::fmt;

/// Why a store operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// No such row (or it belongs to another app).
    NotFound {
        /// `endpoint`, `delivery` or `notification`.
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The row is in a state that forbids the operation (cancelling a sent notification).
    Conflict {
        /// `notification`.
        what: &'static str,
        /// The id.
        id: String,
        /// Its current status.
        status: &'static str,
    },
    /// The row is owned by the config file and cannot be changed through the API.
    ReadOnly {
        /// `endpoint`.
        what: &'static str,
        /// The id.
        id: String,
        /// Where to change it instead.
        change_in: &'static str,
    },
    /// An insert reused an existing id.
    Duplicate {
        /// `endpoint` or `delivery`.
        what: &'static str,
        /// The id.
        id: String,
    },
    /// A stored value could not be decoded.
    Corrupt(String),
    /// The data directory was written by a newer ringcast.
    NewerSchema {
        /// Schema version on disk.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// The database itself failed (disk full, locked, I/O).
    Backend(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::NotFound { what, id } => write!(f, "no {what} with id '{id}'"),
            StoreError::Conflict { what, id, status } => {
                write!(f, "{what} '{id}' is already {status} and cannot change")
            }
            StoreError::ReadOnly {
                what,
                id,
                change_in,
            } => write!(
                f,
                "{what} '{id}' comes from {change_in} and is read-only here; change it there and \
                 restart"
            ),
            StoreError::Duplicate { what, id } => write!(f, "a {what} with id '{id}' exists"),
            StoreError::Corrupt(why) => write!(f, "stored data is unreadable: {why}"),
            StoreError::NewerSchema { found, supported } => write!(
                f,
                "the data directory has schema version {found}, but this ringcast knows only \
                 up to {supported}; run a newer ringcast or point RINGCAST_DATA_DIR elsewhere"
            ),
            StoreError::Backend(why) => write!(f, "the store failed: {why}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}
