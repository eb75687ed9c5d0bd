//! The embedded store: SQLite (bundled) in WAL mode in a data directory.
//!
//! Owns the connection, its pragmas and the schema; the trait implementations live one per file
//! (`endpoints`, `deliveries`, `notifications`). Calls are synchronous under an async surface:
//! each statement is short, and batching (one transaction per group commit) keeps the control
//! core's runtime responsive. It never runs on a shard.
//!
//! Durability: `synchronous=NORMAL` by default. In WAL mode a commit is in the WAL file when it
//! returns, so `kill -9` of the process loses nothing committed; only a power loss or kernel
//! crash can lose the last commits before the next checkpoint. [`SyncMode::Full`] fsyncs every
//! commit for machines where that matters, at the cost of one fsync per transaction.

mod deliveries;
mod endpoints;
mod gauges;
mod notifications;
mod schema;
pub use gauges::WebhookGauges;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::error::StoreError;
use super::types::Page;

/// The data directory used when none is configured.
pub const DEFAULT_DATA_DIR: &str = "./ringcast-data";
/// The environment variable that names the data directory (read by the config layer).
pub const DATA_DIR_ENV: &str = "RINGCAST_DATA_DIR";
/// The database file inside the data directory.
pub const DB_FILE: &str = "ringcast.db";

/// How hard a commit is pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// Survives a process kill; a power loss may drop the last commits.
    #[default]
    Normal,
    /// Survives a power loss; one fsync per commit.
    Full,
}

/// Bytes on disk, for the bench's size measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskUsage {
    /// The main database file.
    pub db_bytes: u64,
    /// The write-ahead log.
    pub wal_bytes: u64,
}

impl DiskUsage {
    /// Everything together.
    pub fn total(&self) -> u64 {
        self.db_bytes + self.wal_bytes
    }
}

/// The SQLite store.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating) `dir/ringcast.db` with the default durability.
    pub fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(dir, SyncMode::default())
    }

    /// Opens (creating) `dir/ringcast.db`, sets WAL and `sync`, and brings the schema up to
    /// date; refuses a schema newer than this build.
    pub fn open_with(dir: &Path, sync: SyncMode) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Backend(format!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })?;
        let path = dir.join(DB_FILE);
        let conn = Connection::open(&path)?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!(
                "{} cannot use WAL (journal_mode is {mode}); put the data directory on a local \
                 file system",
                path.display()
            )));
        }
        let sync = match sync {
            SyncMode::Normal => "NORMAL",
            SyncMode::Full => "FULL",
        };
        // A 16 MiB page cache (the default is 2 MiB) keeps the hot index pages of the delivery
        // queue in memory rather than read back from the file at every outcome; a checkpoint
        // every 4,096 WAL pages (the default is 1,000) copies each page rewritten by many group
        // commits back into the database file once rather than at every few commits.
        conn.execute_batch(&format!(
            "PRAGMA synchronous={sync}; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000; \
             PRAGMA cache_size=-16384; PRAGMA wal_autocheckpoint=4096;"
        ))?;
        schema::migrate(&conn)?;
        tracing::info!(path = %path.display(), synchronous = sync, "store opened");
        Ok(SqliteStore { conn, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Current size of the database and its WAL.
    pub fn disk_usage(&self) -> Result<DiskUsage, StoreError> {
        let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        Ok(DiskUsage {
            db_bytes: len(&self.path),
            wal_bytes: len(Path::new(&wal)),
        })
    }

    /// Folds the WAL into the database file and truncates it (for size measurements and after
    /// a large prune).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// A pragma's current value, for tests and diagnostics.
    pub fn pragma(&self, name: &str) -> Result<String, StoreError> {
        let value: rusqlite::types::Value =
            self.conn
                .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))?;
        Ok(match value {
            rusqlite::types::Value::Integer(i) => i.to_string(),
            rusqlite::types::Value::Text(t) => t,
            other => format!("{other:?}"),
        })
    }
}

/// Maps a uniqueness violation on insert to `Duplicate`.
fn duplicate_or(e: rusqlite::Error, what: &'static str, id: &str) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Duplicate {
            what,
            id: id.to_owned(),
        },
        _ => e.into(),
    }
}

/// A newest-first page from rows carrying their `seq`: the cursor of the next page is the
/// last row's `seq` when the page is full.
fn page_of<T>(rows: Vec<(i64, T)>, limit: usize) -> Page<T> {
    let next = if rows.len() == limit {
        rows.last().map(|(seq, _)| *seq)
    } else {
        None
    };
    Page {
        items: rows.into_iter().map(|(_, item)| item).collect(),
        next,
    }
}

/// The error for a stored enum spelling this build does not know.
fn unknown_text(column: usize, what: &str, text: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Text,
        format!("unknown {what} '{text}'").into(),
    )
}

/// Converts a count to SQLite's integer type (page sizes and batches are small).
fn sql_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
