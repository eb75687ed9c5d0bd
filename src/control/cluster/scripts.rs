//! The cluster state in Redis, sans-IO: the Lua scripts that change it and the readings of
//! their answers.
//!
//! Every change runs as one script, so a node's share and the cluster-wide totals move
//! together and two nodes never interleave inside one change. The key layout lives in one
//! place, [`LAYOUT`], a Lua prelude every script starts with (keys are built inside the
//! scripts, from the prefix, app id, channel and node id passed as arguments; this suits a
//! single Redis or Valkey server, not Redis Cluster's key slots). For presence channel `C` of
//! app `A` under prefix `P`:
//! - `P p:A:C:n:N`, a hash `user → user_info`: node `N`'s share (users with a connection there);
//! - `P p:A:C:u`, a hash `user → number of nodes holding the user`;
//! - `P p:A:C:i`, a hash `user → user_info`: the cluster's member list;
//! - `P n:N:p`, a set of `A\nC`: the channels where node `N` holds a share, for its sweep.
//!
//! A user is a member while some node holds them, so `member_added` goes out when the count
//! goes 0 → 1 and `member_removed` when it goes back to 0: once per user across all nodes.

use crate::broker::resp::encode_command;

/// Lua helpers shared by every script: the key layout above.
const LAYOUT: &str = r#"
local function base(p, app, ch) return p .. 'p:' .. app .. ':' .. ch end
local function share(p, app, ch, node) return base(p, app, ch) .. ':n:' .. node end
local function index(p, node) return p .. 'n:' .. node .. ':p' end
local function drop(p, app, ch, user)
  local b = base(p, app, ch)
  if redis.call('HINCRBY', b .. ':u', user, -1) <= 0 then
    redis.call('HDEL', b .. ':u', user)
    redis.call('HDEL', b .. ':i', user)
    return true
  end
  return false
end
"#;

/// ARGV: prefix, node, app, channel, user, info (empty for none). Adds the user to the node's
/// share (a second connection of the same user on the node changes nothing) and answers
/// `added` (`1` when the user is new to the cluster) followed by the member list, user and
/// info alternating.
const JOIN: &str = r#"
local p, node, app, ch, user, info = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local b = base(p, app, ch)
local added = '0'
if redis.call('HSETNX', share(p, app, ch, node), user, info) == 1 then
  redis.call('SADD', index(p, node), app .. '\n' .. ch)
  if redis.call('HINCRBY', b .. ':u', user, 1) == 1 then
    redis.call('HSET', b .. ':i', user, info)
    added = '1'
  end
end
local out = {added}
for _, v in ipairs(redis.call('HGETALL', b .. ':i')) do table.insert(out, v) end
return out
"#;

/// ARGV: prefix, node, app, channel, user. Takes the user out of the node's share; answers
/// `{1}` when that was the user's last node (the cluster lost the member), else `{0}`.
const LEAVE: &str = r#"
local p, node, app, ch, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local s = share(p, app, ch, node)
if redis.call('HDEL', s, user) == 0 then return {'0'} end
if redis.call('HLEN', s) == 0 then redis.call('SREM', index(p, node), app .. '\n' .. ch) end
if drop(p, app, ch, user) then return {'1'} end
return {'0'}
"#;

/// ARGV: prefix, dead node, the node registry's key. Claims the node (`SREM` from the
/// registry: only one sweeper gets 1) and, if this sweeper got it, removes its whole share in
/// the same step; answers `1` or `0` (claimed), then the members the cluster lost as app,
/// channel, user triples. Claim and cleanup in one script: a sweeper that fails between the
/// two cannot leave a claimed node's share behind.
const SWEEP: &str = r#"
local p, node, registry = ARGV[1], ARGV[2], ARGV[3]
if redis.call('SREM', registry, node) == 0 then return {'0'} end
local out = {'1'}
for _, ac in ipairs(redis.call('SMEMBERS', index(p, node))) do
  local app, ch = string.match(ac, '^(.-)\n(.*)$')
  local s = share(p, app, ch, node)
  for _, user in ipairs(redis.call('HKEYS', s)) do
    if drop(p, app, ch, user) then
      table.insert(out, app); table.insert(out, ch); table.insert(out, user)
    end
  end
  redis.call('DEL', s)
end
redis.call('DEL', index(p, node))
return out
"#;

/// Where this node's scripts act: the key prefix and this node's id.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The configured key prefix.
    pub prefix: String,
    /// This node's id.
    pub node: String,
}

fn eval(script: &str, args: &[&str]) -> Vec<u8> {
    let body = format!("{LAYOUT}{script}");
    let mut parts: Vec<&[u8]> = vec![b"EVAL", body.as_bytes(), b"0"];
    parts.extend(args.iter().map(|a| a.as_bytes()));
    let mut out = Vec::new();
    encode_command(&mut out, &parts);
    out
}

impl Scope {
    /// The command adding `user` (with raw JSON `info`) to this node's share of `channel`.
    pub fn join(&self, app: &str, channel: &str, user: &str, info: Option<&str>) -> Vec<u8> {
        let info = info.unwrap_or("");
        eval(JOIN, &[&self.prefix, &self.node, app, channel, user, info])
    }

    /// The command taking `user` out of this node's share of `channel`.
    pub fn leave(&self, app: &str, channel: &str, user: &str) -> Vec<u8> {
        eval(LEAVE, &[&self.prefix, &self.node, app, channel, user])
    }

    /// The command claiming dead node `node` (listed in `registry`) and removing its share.
    pub fn sweep(&self, node: &str, registry: &str) -> Vec<u8> {
        eval(SWEEP, &[&self.prefix, node, registry])
    }
}

/// One presence member: user id and raw JSON info.
pub type Member = (String, Option<String>);

/// Reads [`JOIN`]'s answer: whether the user is new to the cluster, and the member list.
pub fn joined(answer: Vec<String>) -> Option<(bool, Vec<Member>)> {
    let mut it = answer.into_iter();
    let added = it.next()? == "1";
    let rest: Vec<String> = it.collect();
    let members = rest
        .chunks_exact(2)
        .map(|pair| {
            let info = (!pair[1].is_empty()).then(|| pair[1].clone());
            (pair[0].clone(), info)
        })
        .collect();
    Some((added, members))
}

/// Reads [`SWEEP`]'s answer: `None` when another sweeper claimed the node, else the
/// (app id, channel, user) members the cluster lost.
pub fn swept(answer: Vec<String>) -> Option<Vec<(String, String, String)>> {
    let (claimed, rest) = answer.split_first()?;
    (claimed == "1").then(|| {
        rest.chunks_exact(3)
            .map(|t| (t[0].clone(), t[1].clone(), t[2].clone()))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_answer_reads_added_and_members_with_empty_info_as_none() {
        let answer = ["1", "u1", r#"{"n":1}"#, "u2", ""]
            .map(String::from)
            .to_vec();
        let (added, members) = joined(answer).unwrap();
        assert!(added);
        assert_eq!(
            members,
            vec![
                ("u1".to_owned(), Some(r#"{"n":1}"#.to_owned())),
                ("u2".to_owned(), None)
            ]
        );
        assert_eq!(joined(Vec::new()), None);
        assert_eq!(joined(vec!["0".into()]), Some((false, Vec::new())));
    }

    #[test]
    fn sweep_answer_reads_triples() {
        let answer = ["1", "1", "presence-a", "u1", "2", "presence-b", "u9"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            swept(answer),
            Some(vec![
                ("1".into(), "presence-a".into(), "u1".into()),
                ("2".into(), "presence-b".into(), "u9".into())
            ])
        );
        assert_eq!(swept(vec!["0".into()]), None);
        assert_eq!(swept(vec!["1".into()]), Some(Vec::new()));
    }

    #[test]
    fn scripts_carry_the_layout_and_their_arguments() {
        let scope = Scope {
            prefix: "rc:".into(),
            node: "n1".into(),
        };
        let cmd = String::from_utf8(scope.join("1", "presence-x", "u", None)).unwrap();
        assert!(cmd.contains("local function share"), "{cmd}");
        assert!(
            cmd.ends_with(
                "$3\r\nrc:\r\n$2\r\nn1\r\n$1\r\n1\r\n$10\r\npresence-x\r\n$1\r\nu\r\n$0\r\n\r\n"
            ),
            "{cmd}"
        );
    }
}
