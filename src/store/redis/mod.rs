//! The shared store: endpoints, deliveries and notifications in Redis, for nodes that scale.
//!
//! Every node of a cluster reads and claims the same rows, so an endpoint created on one node
//! is delivered to from any node and a row accepted by a node that dies is claimed by another
//! once its lease runs out. Rows are hashes; due rows sit in sorted sets by due time; a claim
//! moves a row to a lease set and stamps it with a fencing token. Every change that must be
//! atomic is one Lua script (`lua/`, loaded with EVALSHA, sent with EVAL when Redis has not
//! seen it yet). The key layout, leases and fencing are described in `docs/scaling.md`.
//!
//! Fencing: the tokens of this node's live claims are kept here, and a settle or finish passes
//! its row's token; a script drops an outcome whose token is no longer the row's, so a claim
//! that outlived its lease cannot overwrite the result of the node that claimed it next.
//!
//! Connections: a small pool on the control core. A call takes an idle connection (or opens
//! one), and puts it back only after a complete reply, so a broken or abandoned call never
//! leaves a half-read connection behind and concurrent tasks never share one.

mod deliveries;
mod endpoints;
mod notifications;
mod scripts;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use redis_protocol::resp2::types::OwnedFrame;

use super::error::StoreError;
use crate::broker::{BrokerError, Connection};
use crate::config::RedisTarget;
use scripts::Script;

/// Idle connections kept for reuse; more are opened while tasks overlap, then closed.
const POOL_IDLE: usize = 4;
/// Longest wait for one reply: a Redis that stalls fails the call (the loops retry on their
/// next poll) instead of freezing the control core's task.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The Redis store of a cluster.
pub struct RedisStore {
    target: RedisTarget,
    connect_timeout: Duration,
    prefix: String,
    idle: RefCell<Vec<Connection>>,
    /// This node's live notification claims (deliveries carry their token in the claim,
    /// [`crate::store::Delivery::lease`]), by notification id.
    notification_claims: RefCell<Claims>,
}

impl RedisStore {
    /// A store of `target` keeping every key under `prefix` plus `store:`, beside the
    /// heartbeats and presence keys of the same cluster. Connects on first use, from the
    /// runtime that uses it (a connection belongs to the runtime that opened it).
    pub fn new(target: RedisTarget, prefix: &str, connect_timeout: Duration) -> RedisStore {
        RedisStore {
            target,
            connect_timeout,
            prefix: format!("{prefix}store:"),
            idle: RefCell::new(Vec::new()),
            notification_claims: RefCell::new(HashMap::new()),
        }
    }

    /// Opens a first connection, so that a wrong address or password fails at start.
    pub async fn check(&self) -> Result<(), StoreError> {
        let conn = self.take().await?;
        self.give_back(conn);
        Ok(())
    }

    /// The prefix of every key this store writes.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    async fn take(&self) -> Result<Connection, StoreError> {
        let idle = self.idle.borrow_mut().pop();
        match idle {
            Some(conn) => Ok(conn),
            None => Connection::open(&self.target, self.connect_timeout)
                .await
                .map_err(unreachable),
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.borrow_mut();
        if idle.len() < POOL_IDLE {
            idle.push(conn);
        }
    }

    /// Runs `script` with the key prefix as its first argument, then `args`.
    async fn eval(&self, script: &Script, args: Vec<Vec<u8>>) -> Result<OwnedFrame, StoreError> {
        let mut conn = self.take().await?;
        let call = script.run(&mut conn, self.prefix.as_bytes(), &args);
        let frame = bounded(call).await?;
        self.give_back(conn);
        reply(frame)
    }

    /// Sends one plain command.
    async fn command(&self, args: &[&[u8]]) -> Result<OwnedFrame, StoreError> {
        let mut conn = self.take().await?;
        let frame = bounded(conn.call(args)).await?;
        self.give_back(conn);
        reply(frame)
    }

    fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }
}

/// Waits at most [`CALL_TIMEOUT`] for a reply. On timeout or failure the caller drops the
/// connection instead of reusing it, since a late reply would answer the next call.
async fn bounded(
    call: impl std::future::Future<Output = Result<OwnedFrame, BrokerError>>,
) -> Result<OwnedFrame, StoreError> {
    match monoio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(result) => result.map_err(unreachable),
        Err(_) => Err(StoreError::Backend(format!(
            "the shared store in Redis did not answer within {} s",
            CALL_TIMEOUT.as_secs()
        ))),
    }
}

fn unreachable(e: BrokerError) -> StoreError {
    StoreError::Backend(format!("the shared store in Redis failed: {e}"))
}

/// An error line from a script becomes the store error it names; any other one is the
/// back end's.
fn reply(frame: OwnedFrame) -> Result<OwnedFrame, StoreError> {
    let OwnedFrame::Error(line) = frame else {
        return Ok(frame);
    };
    let words: Vec<&str> = line.splitn(4, ' ').collect();
    let what = match words.get(1).copied() {
        Some("endpoint") => "endpoint",
        Some("delivery") => "delivery",
        _ => "notification",
    };
    let id = words.get(3).map(|s| s.to_string()).unwrap_or_default();
    match (words.first().copied(), words.get(2)) {
        (Some("NOTFOUND"), _) => Err(StoreError::NotFound { what, id }),
        (Some("DUPLICATE"), _) => Err(StoreError::Duplicate { what, id }),
        (Some("CONFLICT"), Some(status)) => Err(StoreError::Conflict {
            what,
            id,
            status: status
                .parse::<super::NotificationStatus>()
                .map(|s| s.as_str())
                .unwrap_or("finished"),
        }),
        _ => Err(StoreError::Backend(format!("Redis answered: {line}"))),
    }
}

/// How long after its lease ended a claim's token is still kept. A claim that is never
/// settled here (cancelled or settled on another node, released beyond the wheel) is forgotten
/// then, so the map stays bounded; an outcome later than this is no longer fenced.
const FORGET_AFTER_MS: i64 = 3_600_000;

/// A fencing token and when its lease ends.
type Claims = HashMap<String, (String, i64)>;

/// The rows a claim script leased until `until_ms`, with each one's fencing token remembered
/// in `claims` (where claims whose lease ended long ago are forgotten).
fn claimed<T>(
    rows: OwnedFrame,
    claims: &RefCell<Claims>,
    until_ms: i64,
    decode: impl Fn(Row) -> Result<(String, T), StoreError>,
) -> Result<Vec<T>, StoreError> {
    let rows = array(rows)?;
    let mut out = Vec::with_capacity(rows.len());
    let mut claims = claims.borrow_mut();
    // `until_ms` is now plus a lease: anything that ended an hour before now goes.
    claims.retain(|_, (_, until)| until.saturating_add(FORGET_AFTER_MS) > until_ms);
    for frame in rows {
        let mut row = Row::parse(frame)?;
        let token = row.text("token")?;
        let (id, item) = decode(row)?;
        claims.insert(id, (token, until_ms));
        out.push(item);
    }
    Ok(out)
}

/// A row: the field/value pairs of a hash as a script or HGETALL returns them.
struct Row(HashMap<String, Vec<u8>>);

impl Row {
    fn parse(frame: OwnedFrame) -> Result<Row, StoreError> {
        let items = array(frame)?;
        let mut map = HashMap::with_capacity(items.len() / 2);
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            map.insert(text(k)?, bytes(v)?);
        }
        Ok(Row(map))
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn bytes(&mut self, field: &str) -> Vec<u8> {
        self.0.remove(field).unwrap_or_default()
    }

    fn text(&mut self, field: &str) -> Result<String, StoreError> {
        String::from_utf8(self.bytes(field))
            .map_err(|_| StoreError::Corrupt(format!("field '{field}' is not UTF-8")))
    }

    fn opt_text(&mut self, field: &str) -> Result<Option<String>, StoreError> {
        match self.0.contains_key(field) {
            true => self.text(field).map(Some),
            false => Ok(None),
        }
    }

    fn num<T: std::str::FromStr>(&mut self, field: &str) -> Result<T, StoreError> {
        let raw = self.text(field)?;
        raw.parse()
            .map_err(|_| StoreError::Corrupt(format!("field '{field}' holds '{raw}'")))
    }
}

fn array(frame: OwnedFrame) -> Result<Vec<OwnedFrame>, StoreError> {
    match frame {
        OwnedFrame::Array(items) => Ok(items),
        OwnedFrame::Null => Ok(Vec::new()),
        other => Err(unexpected(&other)),
    }
}

fn bytes(frame: OwnedFrame) -> Result<Vec<u8>, StoreError> {
    match frame {
        OwnedFrame::BulkString(b) | OwnedFrame::SimpleString(b) => Ok(b),
        OwnedFrame::Integer(n) => Ok(n.to_string().into_bytes()),
        OwnedFrame::Null => Ok(Vec::new()),
        other => Err(unexpected(&other)),
    }
}

fn text(frame: OwnedFrame) -> Result<String, StoreError> {
    String::from_utf8(bytes(frame)?)
        .map_err(|_| StoreError::Corrupt("a text reply is not UTF-8".to_owned()))
}

fn integer(frame: OwnedFrame) -> Result<i64, StoreError> {
    match frame {
        OwnedFrame::Integer(n) => Ok(n),
        other => Err(unexpected(&other)),
    }
}

fn unexpected(frame: &OwnedFrame) -> StoreError {
    StoreError::Backend(format!("unexpected reply from Redis: {frame:?}"))
}

/// An argument: a number or text as bytes.
fn arg(value: impl ToString) -> Vec<u8> {
    value.to_string().into_bytes()
}

/// An optional argument: empty for `None`, else `=` and the text, so that `Some("")` survives.
fn opt_arg(value: Option<&str>) -> Vec<u8> {
    value.map_or_else(Vec::new, |v| format!("={v}").into_bytes())
}

/// The exclusive upper bound of a newest-first page: below the cursor, or everything.
fn below(before: Option<i64>) -> Vec<u8> {
    before.map_or_else(|| b"+inf".to_vec(), |b| format!("({b}").into_bytes())
}
