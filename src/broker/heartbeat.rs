//! Node liveness in Redis, sans-IO: which keys say a node is alive, the commands that
//! refresh them, and how a sweep tells dead nodes from live ones.
//!
//! Each node keeps `{prefix}node:{id}` alive with `SET ... PX ttl`, refreshed every third of
//! the TTL (two refreshes may be lost before it expires), and is listed in the set
//! `{prefix}nodes`. A sweep reads the set, asks for every listed node's key (`MGET`), and
//! treats listed nodes without a key as dead. Each dead node is then claimed with `SREM`:
//! Redis answers 1 to exactly one sweeper, so a dead node's presence and counts are cleaned
//! up once across the cluster. With the default 10 s TTL and a sweep every 2.5 s, a node
//! killed with -9 is found within 12.5 s. No clock and no socket here: the caller times the
//! beats and sweeps and sends the bytes (see [`super::liveness`]).

use std::time::Duration;

use super::resp::encode_command;

/// Default lifetime of a node's key without a refresh.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10);

/// One node's view of the cluster's membership keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    prefix: String,
    node_id: String,
    ttl: Duration,
}

impl Membership {
    /// Membership of node `node_id` under the key prefix `prefix`, keys living `ttl`.
    pub fn new(prefix: &str, node_id: &str, ttl: Duration) -> Membership {
        Membership {
            prefix: prefix.to_owned(),
            node_id: node_id.to_owned(),
            ttl: ttl.max(Duration::from_millis(3)),
        }
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// How often to refresh this node's key.
    pub fn beat_every(&self) -> Duration {
        self.ttl / 3
    }

    /// How often to sweep: a quarter of the TTL, so a death is seen within 1.25 TTL.
    pub fn sweep_every(&self) -> Duration {
        self.ttl / 4
    }

    /// The key whose presence says node `id` is alive.
    pub fn node_key(&self, id: &str) -> String {
        format!("{}node:{id}", self.prefix)
    }

    /// The set listing every node that has joined and not been swept.
    pub fn registry_key(&self) -> String {
        format!("{}nodes", self.prefix)
    }

    /// Two pipelined commands (`SET key id PX ttl`, `SADD nodes id`): the beat, also the join.
    pub fn beat(&self) -> Vec<u8> {
        let ttl_ms = self.ttl.as_millis().to_string();
        let mut out = Vec::new();
        let key = self.node_key(&self.node_id);
        let id = self.node_id.as_bytes();
        encode_command(
            &mut out,
            &[b"SET", key.as_bytes(), id, b"PX", ttl_ms.as_bytes()],
        );
        encode_command(&mut out, &[b"SADD", self.registry_key().as_bytes(), id]);
        out
    }

    /// `SMEMBERS nodes`: the first step of a sweep.
    pub fn list(&self) -> Vec<u8> {
        let mut out = Vec::new();
        encode_command(&mut out, &[b"SMEMBERS", self.registry_key().as_bytes()]);
        out
    }

    /// `MGET` of the listed nodes' keys; `None` when none is listed (MGET needs a key).
    pub fn probe(&self, members: &[String]) -> Option<Vec<u8>> {
        if members.is_empty() {
            return None;
        }
        let keys: Vec<String> = members.iter().map(|m| self.node_key(m)).collect();
        let mut args: Vec<&[u8]> = vec![b"MGET"];
        args.extend(keys.iter().map(|k| k.as_bytes()));
        let mut out = Vec::new();
        encode_command(&mut out, &args);
        Some(out)
    }

    /// The listed nodes whose key is gone (`alive` answers `members` in order), this node
    /// excepted: a node late with its own beat refreshes itself, never sweeps itself away.
    pub fn dead(&self, members: &[String], alive: &[bool]) -> Vec<String> {
        members
            .iter()
            .zip(alive)
            .filter(|(id, alive)| !**alive && **id != self.node_id)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// `SREM nodes id`: answers 1 to the one sweeper that takes over the cleanup of `id`.
    pub fn claim(&self, id: &str) -> Vec<u8> {
        let mut out = Vec::new();
        encode_command(
            &mut out,
            &[b"SREM", self.registry_key().as_bytes(), id.as_bytes()],
        );
        out
    }

    /// `DEL key` then `SREM nodes id`: a clean shutdown, so nobody has to wait for the TTL.
    pub fn leave(&self) -> Vec<u8> {
        let mut out = Vec::new();
        encode_command(&mut out, &[b"DEL", self.node_key(&self.node_id).as_bytes()]);
        out.extend(self.claim(&self.node_id));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str) -> Membership {
        Membership::new("rc:", id, Duration::from_secs(9))
    }

    #[test]
    fn keys_and_periods_follow_prefix_and_ttl() {
        let m = node("abc");
        assert_eq!(m.node_key("abc"), "rc:node:abc");
        assert_eq!(m.registry_key(), "rc:nodes");
        assert_eq!(m.beat_every(), Duration::from_secs(3));
        assert_eq!(m.sweep_every(), Duration::from_millis(2250));
        assert_eq!(
            Membership::new("", "x", Duration::ZERO).beat_every(),
            Duration::from_millis(1)
        );
    }

    #[test]
    fn beat_sets_the_key_with_its_ttl_and_joins_the_set() {
        let beat = String::from_utf8(node("abc").beat()).unwrap();
        assert_eq!(
            beat,
            "*5\r\n$3\r\nSET\r\n$11\r\nrc:node:abc\r\n$3\r\nabc\r\n$2\r\nPX\r\n$4\r\n9000\r\n\
             *3\r\n$4\r\nSADD\r\n$8\r\nrc:nodes\r\n$3\r\nabc\r\n"
        );
    }

    #[test]
    fn probe_asks_for_every_listed_key() {
        let m = node("a");
        assert_eq!(m.probe(&[]), None);
        let probe = String::from_utf8(m.probe(&["a".into(), "b".into()]).unwrap()).unwrap();
        assert!(
            probe.starts_with("*3\r\n$4\r\nMGET\r\n$9\r\nrc:node:a\r\n"),
            "{probe}"
        );
        assert!(probe.ends_with("$9\r\nrc:node:b\r\n"), "{probe}");
    }

    #[test]
    fn dead_are_the_listed_without_a_key_never_self() {
        let m = node("me");
        let members: Vec<String> = ["me", "a", "b", "c"].map(String::from).into();
        assert_eq!(m.dead(&members, &[false, true, false, true]), ["b"]);
        assert_eq!(
            m.dead(&members, &[true, false, false, false]),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn leave_deletes_the_key_and_leaves_the_set() {
        let leave = String::from_utf8(node("z").leave()).unwrap();
        assert!(
            leave.starts_with("*2\r\n$3\r\nDEL\r\n$9\r\nrc:node:z\r\n"),
            "{leave}"
        );
        assert!(
            leave.ends_with("*3\r\n$4\r\nSREM\r\n$8\r\nrc:nodes\r\n$1\r\nz\r\n"),
            "{leave}"
        );
    }
}
