//! RESP2 on the wire, sans-IO: commands to bytes, bytes to frames, frames to meanings.
//!
//! Framing is the `redis-protocol` crate's; this file adds what ringcast says to Redis (the
//! login commands, PUBLISH, SUBSCRIBE) and how it reads the answers (OK, integers, error
//! lines, pub/sub pushes). It owns no socket and reads no clock: the link feeds it bytes.

use redis_protocol::resp2::decode::decode;
use redis_protocol::resp2::encode::encode_borrowed;
use redis_protocol::resp2::types::{BorrowedFrame, OwnedFrame};

use super::BrokerError;
use crate::config::RedisTarget;

/// Appends `args` as one RESP command (an array of bulk strings) to `out`.
pub fn encode_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    let parts: Vec<BorrowedFrame<'_>> = args.iter().map(|a| BorrowedFrame::BulkString(a)).collect();
    let frame = BorrowedFrame::Array(&parts);
    let start = out.len();
    out.resize(start + frame.encode_len(false), 0);
    // The buffer was sized by the same crate's encode_len: encoding cannot run short.
    let written = encode_borrowed(&mut out[start..], &frame, false).unwrap_or(0);
    out.truncate(start + written);
}

/// Bytes received and not yet decoded into frames.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Bytes of `buf` already decoded; moved out only when a feed comes, so a read full of
    /// small frames costs one move, not one per frame.
    start: usize,
}

impl Decoder {
    /// Adds bytes read from the connection.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.drain(..self.start);
        self.start = 0;
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `None` until one has fully arrived.
    pub fn next_frame(&mut self) -> Result<Option<OwnedFrame>, BrokerError> {
        match decode(&self.buf[self.start..]) {
            Ok(Some((frame, used))) => {
                self.start += used;
                Ok(Some(frame))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(BrokerError::Protocol(e.to_string())),
        }
    }
}

/// Which login command a reply answers, so a refusal names the right setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginStep {
    /// `AUTH [user] password`.
    Auth,
    /// `SELECT db`.
    Select,
}

/// The commands that log in and choose the database, in order; each answers `+OK`.
pub fn login_commands(target: &RedisTarget) -> Vec<(LoginStep, Vec<u8>)> {
    let mut cmds = Vec::new();
    if let Some(password) = &target.password {
        let mut cmd = Vec::new();
        match &target.username {
            Some(user) => {
                encode_command(&mut cmd, &[b"AUTH", user.as_bytes(), password.as_bytes()])
            }
            None => encode_command(&mut cmd, &[b"AUTH", password.as_bytes()]),
        }
        cmds.push((LoginStep::Auth, cmd));
    }
    if target.db != 0 {
        let mut cmd = Vec::new();
        encode_command(&mut cmd, &[b"SELECT", target.db.to_string().as_bytes()]);
        cmds.push((LoginStep::Select, cmd));
    }
    cmds
}

/// Checks a reply that must be `+OK`; the error line (if Redis sent one) is returned as is.
pub fn expect_ok(frame: &OwnedFrame) -> Result<(), String> {
    match frame {
        OwnedFrame::SimpleString(s) if s == b"OK" => Ok(()),
        OwnedFrame::Error(e) => Err(e.clone()),
        other => Err(format!("expected OK, got {other:?}")),
    }
}

/// True when an error line means "log in first" or "wrong login".
pub fn is_auth_error(line: &str) -> bool {
    ["NOAUTH", "WRONGPASS", "ERR invalid password", "ERR AUTH"]
        .iter()
        .any(|p| line.starts_with(p))
}

/// An integer reply (PUBLISH answers the number of subscribers that received the message).
pub fn integer(frame: OwnedFrame) -> Result<i64, BrokerError> {
    match frame {
        OwnedFrame::Integer(n) => Ok(n),
        OwnedFrame::Error(e) => Err(BrokerError::Command(e)),
        other => Err(BrokerError::Protocol(format!(
            "expected an integer, got {other:?}"
        ))),
    }
}

/// An array of bulk strings (`SMEMBERS`), as UTF-8 text.
pub fn strings(frame: OwnedFrame) -> Result<Vec<String>, BrokerError> {
    array(frame)?
        .into_iter()
        .map(|f| match f {
            OwnedFrame::BulkString(b) => String::from_utf8(b)
                .map_err(|_| BrokerError::Protocol("a member is not UTF-8".to_owned())),
            other => Err(BrokerError::Protocol(format!(
                "expected a string, got {other:?}"
            ))),
        })
        .collect()
}

/// Which entries of an `MGET` answer hold a value (true) rather than nil (false).
pub fn presence(frame: OwnedFrame) -> Result<Vec<bool>, BrokerError> {
    Ok(array(frame)?
        .iter()
        .map(|f| !matches!(f, OwnedFrame::Null))
        .collect())
}

fn array(frame: OwnedFrame) -> Result<Vec<OwnedFrame>, BrokerError> {
    match frame {
        OwnedFrame::Array(parts) => Ok(parts),
        OwnedFrame::Error(e) => Err(BrokerError::Command(e)),
        other => Err(BrokerError::Protocol(format!(
            "expected an array, got {other:?}"
        ))),
    }
}

/// A frame received on a subscribed connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Push {
    /// `message`: a payload published on `channel`.
    Message {
        /// The channel it was published on.
        channel: Vec<u8>,
        /// The published bytes.
        payload: Vec<u8>,
    },
    /// `subscribe`: the subscription to `channel` is in place.
    Subscribed {
        /// The channel subscribed to.
        channel: Vec<u8>,
    },
    /// Anything else a subscribed connection may carry (unsubscribe, pong).
    Other,
}

/// Reads a frame from a subscribed connection.
pub fn push(frame: OwnedFrame) -> Result<Push, BrokerError> {
    let parts = match frame {
        OwnedFrame::Array(parts) => parts,
        OwnedFrame::Error(e) => return Err(BrokerError::Command(e)),
        other => {
            return Err(BrokerError::Protocol(format!(
                "expected a push, got {other:?}"
            )))
        }
    };
    let bulk = |f: &OwnedFrame| match f {
        OwnedFrame::BulkString(b) => Some(b.clone()),
        _ => None,
    };
    let kind = parts.first().and_then(bulk).unwrap_or_default();
    let field = |i: usize| parts.get(i).and_then(bulk);
    Ok(match (kind.as_slice(), field(1), field(2)) {
        (b"message", Some(channel), Some(payload)) => Push::Message { channel, payload },
        (b"subscribe", Some(channel), _) => Push::Subscribed { channel },
        _ => Push::Other,
    })
}

#[cfg(test)]
#[path = "resp_tests.rs"]
mod tests;
