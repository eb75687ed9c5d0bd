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
//! - `P n:N:p`, a set of `A\nC`: the channels where node `N` holds a share, for its sweep;
//! - `P c:A:n:N`, a hash `channel → subscriptions on node N`, and `P c:A`, the same summed
//!   over the nodes (fields at zero are deleted, so `P c:A` lists the occupied channels);
//! - `P n:N:c`, a set of the apps whose counts node `N` holds a share of;
//! - `P w:A:n:N`, a set of the signed-in users with a connection on node `N`, `P w:A`, a hash
//!   `user → nodes holding them` (a user is online while present), and `P n:N:w`, the apps.
//!
//! A user is a member while some node holds them, so `member_added` goes out when the count
//! goes 0 → 1 and `member_removed` when it goes back to 0: once per user across all nodes.

use crate::broker::resp::encode_command;

/// Lua helpers shared by every script: the key layout above.
const LAYOUT: &str = r#"
local function base(p, app, ch) return p .. 'p:' .. app .. ':' .. ch end
local function share(p, app, ch, node) return base(p, app, ch) .. ':n:' .. node end
local function index(p, node) return p .. 'n:' .. node .. ':p' end
local function counts(p, app) return p .. 'c:' .. app end
local function online(p, app) return p .. 'w:' .. app end
-- Adds d to field ch of hash key, deleting it at zero; answers the new value.
local function add(key, ch, d)
  local v = redis.call('HINCRBY', key, ch, d)
  if v <= 0 then redis.call('HDEL', key, ch) end
  return v
end
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

/// ARGV: prefix, node, then app, channel, delta triples. Adds each delta to the node's
/// subscription counts and the cluster's; answers app, channel, `1`|`0` triples for the
/// channels the cluster found occupied (0 → more) or vacated (back to 0).
const COUNT: &str = r#"
local p, node = ARGV[1], ARGV[2]
local out = {}
for i = 3, #ARGV, 3 do
  local app, ch, d = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  redis.call('SADD', p .. 'n:' .. node .. ':c', app)
  add(counts(p, app) .. ':n:' .. node, ch, d)
  local total = add(counts(p, app), ch, d)
  if total > 0 and total - d <= 0 then
    table.insert(out, app); table.insert(out, ch); table.insert(out, '1')
  elseif total <= 0 and total - d > 0 then
    table.insert(out, app); table.insert(out, ch); table.insert(out, '0')
  end
end
return out
"#;

/// ARGV: prefix, app, `1` for an exact channel (else a prefix), the channel or prefix, `1`
/// to list members. Answers the number of channels, then channel, subscriptions, users
/// triples, then the member ids of the exact channel.
const QUERY: &str = r#"
local p, app, exact, name, with = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local rows = {}
local function row(ch, subs)
  local users = 0
  if string.sub(ch, 1, 9) == 'presence-' then users = redis.call('HLEN', base(p, app, ch) .. ':u') end
  table.insert(rows, ch); table.insert(rows, tostring(subs)); table.insert(rows, tostring(users))
end
if exact == '1' then
  local subs = redis.call('HGET', counts(p, app), name)
  if subs then row(name, subs) end
else
  local all = redis.call('HGETALL', counts(p, app))
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, #name) == name then row(all[i], all[i + 1]) end
  end
end
local out = {tostring(#rows / 3)}
for _, v in ipairs(rows) do table.insert(out, v) end
if with == '1' then
  for _, u in ipairs(redis.call('HKEYS', base(p, app, name) .. ':u')) do table.insert(out, u) end
end
return out
"#;

/// ARGV: prefix, node, app, user, `1` (first connection on the node) or `0` (last one
/// closed). Answers `{1}` when the user's cluster-wide status flipped, else `{0}`.
const STATUS: &str = r#"
local p, node, app, user, on = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local mine = online(p, app) .. ':n:' .. node
if on == '1' then
  if redis.call('SADD', mine, user) == 0 then return {'0'} end
  redis.call('SADD', p .. 'n:' .. node .. ':w', app)
  if redis.call('HINCRBY', online(p, app), user, 1) == 1 then return {'1'} end
  return {'0'}
end
if redis.call('SREM', mine, user) == 0 then return {'0'} end
if add(online(p, app), user, -1) <= 0 then return {'1'} end
return {'0'}
"#;

/// ARGV: prefix, node, then app, channel, subscriptions triples: this node's whole share of
/// the counts, after a reconnect. Sets the node's counts to these values (channels not listed
/// go to zero) and moves the cluster totals by the differences, so running it twice, or on
/// a share Redis kept, changes nothing.
const RESTORE_COUNTS: &str = r#"
local p, node = ARGV[1], ARGV[2]
local apps = p .. 'n:' .. node .. ':c'
local want = {}
for i = 3, #ARGV, 3 do
  want[ARGV[i]] = want[ARGV[i]] or {}
  want[ARGV[i]][ARGV[i + 1]] = tonumber(ARGV[i + 2])
end
for _, app in ipairs(redis.call('SMEMBERS', apps)) do want[app] = want[app] or {} end
for app, chans in pairs(want) do
  local mine = counts(p, app) .. ':n:' .. node
  local had = redis.call('HGETALL', mine)
  for i = 1, #had, 2 do if chans[had[i]] == nil then chans[had[i]] = 0 end end
  for ch, n in pairs(chans) do
    local d = n - tonumber(redis.call('HGET', mine, ch) or '0')
    if d ~= 0 then add(mine, ch, d); add(counts(p, app), ch, d) end
  end
  redis.call('SADD', apps, app)
end
return {}
"#;

/// ARGV: prefix, app, user. Answers `{1}` when the user is online on some node.
const IS_ONLINE: &str = r#"
return {tostring(redis.call('HEXISTS', online(ARGV[1], ARGV[2]), ARGV[3]))}
"#;

/// ARGV: prefix, dead node, the node registry's key. Claims the node (`SREM` from the
/// registry: only one sweeper gets 1) and, if this sweeper got it, removes its whole share in
/// the same step; answers `1` or `0` (claimed), the number of lost members, the number of
/// vacated channels, the members the cluster lost as app, channel, user triples, the channels
/// it vacated as app, channel pairs, then the users it took offline as app, user pairs. Claim and cleanup in one script: a sweeper that fails between the two cannot leave
/// a claimed node's share behind.
const SWEEP: &str = r#"
local p, node, registry = ARGV[1], ARGV[2], ARGV[3]
if redis.call('SREM', registry, node) == 0 then return {'0'} end
local lost, vacated = {}, {}
for _, ac in ipairs(redis.call('SMEMBERS', index(p, node))) do
  local app, ch = string.match(ac, '^(.-)\n(.*)$')
  local s = share(p, app, ch, node)
  for _, user in ipairs(redis.call('HKEYS', s)) do
    if drop(p, app, ch, user) then
      table.insert(lost, app); table.insert(lost, ch); table.insert(lost, user)
    end
  end
  redis.call('DEL', s)
end
redis.call('DEL', index(p, node))
for _, app in ipairs(redis.call('SMEMBERS', p .. 'n:' .. node .. ':c')) do
  local mine = redis.call('HGETALL', counts(p, app) .. ':n:' .. node)
  for i = 1, #mine, 2 do
    if add(counts(p, app), mine[i], -tonumber(mine[i + 1])) <= 0 then
      table.insert(vacated, app); table.insert(vacated, mine[i])
    end
  end
  redis.call('DEL', counts(p, app) .. ':n:' .. node)
end
redis.call('DEL', p .. 'n:' .. node .. ':c')
local out = {'1', tostring(#lost / 3), tostring(#vacated / 2)}
for _, v in ipairs(lost) do table.insert(out, v) end
for _, v in ipairs(vacated) do table.insert(out, v) end
for _, app in ipairs(redis.call('SMEMBERS', p .. 'n:' .. node .. ':w')) do
  local mine = online(p, app) .. ':n:' .. node
  for _, user in ipairs(redis.call('SMEMBERS', mine)) do
    if add(online(p, app), user, -1) <= 0 then table.insert(out, app); table.insert(out, user) end
  end
  redis.call('DEL', mine)
end
redis.call('DEL', p .. 'n:' .. node .. ':w')
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

    /// The command adding `(app id, channel, delta)` changes to this node's subscription
    /// counts; `None` when there are none.
    pub fn count(&self, deltas: &[(String, String, i64)]) -> Option<Vec<u8>> {
        if deltas.is_empty() {
            return None;
        }
        Some(self.per_channel(COUNT, deltas))
    }

    /// The command reading the cluster's counts of app `app`'s channels: `exact` one, or all
    /// starting with `name`; with the exact channel's member ids when `with_members`.
    pub fn query(&self, app: &str, exact: bool, name: &str, with_members: bool) -> Vec<u8> {
        let flag = |b: bool| if b { "1" } else { "0" };
        let args = [&self.prefix, app, flag(exact), name, flag(with_members)];
        eval(QUERY, &args)
    }

    /// The command recording that `user` came online (`on`) or went offline on this node.
    pub fn status(&self, app: &str, user: &str, on: bool) -> Vec<u8> {
        let on = if on { "1" } else { "0" };
        eval(STATUS, &[&self.prefix, &self.node, app, user, on])
    }

    /// The command setting this node's whole share of the counts to `(app id, channel,
    /// subscriptions)`.
    pub fn restore_counts(&self, share: &[(String, String, i64)]) -> Vec<u8> {
        self.per_channel(RESTORE_COUNTS, share)
    }

    /// `script` with the prefix, this node, then the (app id, channel, number) triples.
    fn per_channel(&self, script: &str, rows: &[(String, String, i64)]) -> Vec<u8> {
        let texts: Vec<String> = rows.iter().map(|d| d.2.to_string()).collect();
        let mut args: Vec<&str> = vec![&self.prefix, &self.node];
        for ((app, channel, _), n) in rows.iter().zip(&texts) {
            args.extend([app.as_str(), channel.as_str(), n.as_str()]);
        }
        eval(script, &args)
    }

    /// The command asking whether `user` is online on some node.
    pub fn is_online(&self, app: &str, user: &str) -> Vec<u8> {
        eval(IS_ONLINE, &[&self.prefix, app, user])
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

/// What a sweep removed with a dead node.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// (app id, channel, user): the members the cluster lost.
    pub members: Vec<(String, String, String)>,
    /// (app id, channel): the channels the cluster lost its last subscriber of.
    pub vacated: Vec<(String, String)>,
    /// (app id, user): the users the cluster saw go offline.
    pub offline: Vec<(String, String)>,
}

/// Reads [`SWEEP`]'s answer: `None` when another sweeper claimed the node.
pub fn swept(answer: Vec<String>) -> Option<Swept> {
    let (claimed, rest) = answer.split_first()?;
    if claimed != "1" {
        return None;
    }
    let [members, vacated, ..] = rest else {
        return None;
    };
    let members = members.parse::<usize>().ok()?.checked_mul(3)?;
    let vacated = vacated.parse::<usize>().ok()?.checked_mul(2)?;
    let rest = &rest[2..];
    if members + vacated > rest.len() {
        return None;
    }
    let (lost, rest) = rest.split_at(members);
    let (vacated, offline) = rest.split_at(vacated);
    let pairs = |list: &[String]| {
        list.chunks_exact(2)
            .map(|t| (t[0].clone(), t[1].clone()))
            .collect()
    };
    Some(Swept {
        members: lost
            .chunks_exact(3)
            .map(|t| (t[0].clone(), t[1].clone(), t[2].clone()))
            .collect(),
        vacated: pairs(vacated),
        offline: pairs(offline),
    })
}

/// Reads [`COUNT`]'s answer: (app id, channel, occupied) for each cluster-wide transition.
pub fn transitions(answer: Vec<String>) -> Vec<(String, String, bool)> {
    answer
        .chunks_exact(3)
        .map(|t| (t[0].clone(), t[1].clone(), t[2] == "1"))
        .collect()
}

/// The cluster's counts of the channels a query selected.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// (channel, subscriptions, users), for the occupied channels.
    pub channels: Vec<(String, u64, u64)>,
    /// The member ids of the exact channel, when asked.
    pub members: Vec<String>,
}

/// Reads [`QUERY`]'s answer.
pub fn counts(answer: Vec<String>) -> Option<Counts> {
    let (n, rest) = answer.split_first()?;
    let split = n.parse::<usize>().ok()?.checked_mul(3)?;
    if split > rest.len() {
        return None;
    }
    let (rows, members) = rest.split_at(split);
    let channels = rows
        .chunks_exact(3)
        .map(|r| Some((r[0].clone(), r[1].parse().ok()?, r[2].parse().ok()?)))
        .collect::<Option<Vec<_>>>()?;
    Some(Counts {
        channels,
        members: members.to_vec(),
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
    fn sweep_answer_reads_members_then_vacated_channels() {
        let answer = [
            "1",
            "2",
            "1",
            "1",
            "presence-a",
            "u1",
            "2",
            "presence-b",
            "u9",
            "1",
            "news",
            "1",
            "u5",
        ]
        .map(String::from)
        .to_vec();
        let swept = swept(answer).unwrap();
        assert_eq!(
            swept.members,
            vec![
                ("1".into(), "presence-a".into(), "u1".into()),
                ("2".into(), "presence-b".into(), "u9".into())
            ]
        );
        assert_eq!(swept.vacated, vec![("1".into(), "news".into())]);
        assert_eq!(swept.offline, vec![("1".into(), "u5".into())]);
        assert_eq!(super::swept(vec!["0".into()]), None);
        assert_eq!(
            super::swept(["1", "0", "0"].map(String::from).to_vec()),
            Some(Swept::default())
        );
        assert_eq!(
            super::swept(["1", "1", "0"].map(String::from).to_vec()),
            None
        );
    }

    #[test]
    fn query_and_count_answers_are_read() {
        let answer = ["2", "news", "3", "0", "presence-x", "2", "1", "u1"]
            .map(String::from)
            .to_vec();
        let got = counts(answer).unwrap();
        assert_eq!(
            got.channels,
            vec![("news".into(), 3, 0), ("presence-x".into(), 2, 1)]
        );
        assert_eq!(got.members, vec!["u1".to_owned()]);
        assert_eq!(counts(vec!["2".into(), "news".into()]), None);
        let moved = transitions(["1", "a", "1", "1", "b", "0"].map(String::from).to_vec());
        assert_eq!(
            moved,
            vec![
                ("1".into(), "a".into(), true),
                ("1".into(), "b".into(), false)
            ]
        );
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
