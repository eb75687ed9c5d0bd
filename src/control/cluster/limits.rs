//! Per-app limits counted across the cluster: `max_connections` and the REST event budget
//! (`max_backend_events_per_second`).
//!
//! Every [`REFRESH`] the cluster task writes this node's open connections per app into
//! Redis (`P l:A`, a hash `node → connections`) and reads back, in the same script, the sum
//! over the other live nodes (those in the heartbeat registry; a field of a node no longer
//! there is deleted) and the number of live nodes. The shards read both from [`Shared`] at
//! connect and on the REST publish path, so neither ever waits for Redis.
//!
//! How exact (see `docs/scaling.md`): a node admits against the others' count as of its
//! last refresh, so the cluster can overshoot `max_connections` by the connections the other
//! nodes accepted within one refresh (plus a round trip); never by more than that. The REST
//! budget is split evenly over the live nodes' cores, so the cluster never publishes more
//! than the limit (up to rounding, one event per core), at the price of a node that gets
//! more than its share of the requests refusing before the cluster total is reached.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::scripts;
use super::task::call;
use crate::broker::Connection;
use crate::shard::Shared;

/// How often the counts are exchanged: the bound on how stale another node's count is.
pub const REFRESH: Duration = Duration::from_millis(250);

/// ARGV: prefix, node, the node registry's key, then app id, connections pairs. Records this
/// node's counts and answers the number of live nodes, then per app (in ARGV order) the
/// connections on the other live nodes.
const EXCHANGE: &str = r#"
local p, node, registry = ARGV[1], ARGV[2], ARGV[3]
local out = {tostring(redis.call('SCARD', registry))}
for i = 4, #ARGV, 2 do
  local key = p .. 'l:' .. ARGV[i]
  redis.call('HSET', key, node, ARGV[i + 1])
  local rest = 0
  local all = redis.call('HGETALL', key)
  for j = 1, #all, 2 do
    if all[j] ~= node then
      if redis.call('SISMEMBER', registry, all[j]) == 1 then
        rest = rest + tonumber(all[j + 1])
      else
        redis.call('HDEL', key, all[j])
      end
    end
  end
  table.insert(out, tostring(rest))
end
return out
"#;

/// The exchange command for this node (`node`) with `counts`, (app id, connections).
fn exchange(prefix: &str, node: &str, registry: &str, counts: &[(&str, u64)]) -> Vec<u8> {
    let figures: Vec<String> = counts.iter().map(|(_, n)| n.to_string()).collect();
    let mut args = vec![prefix, node, registry];
    for ((app, _), n) in counts.iter().zip(&figures) {
        args.push(app);
        args.push(n);
    }
    scripts::eval_plain(EXCHANGE, &args)
}

/// Reads [`EXCHANGE`]'s answer for `apps` apps: (live nodes, others' connections per app).
fn read(answer: &[String], apps: usize) -> Option<(u64, Vec<u64>)> {
    let mut it = answer.iter().map(|v| v.parse::<u64>().ok());
    let nodes = it.next()??;
    let rest: Option<Vec<u64>> = it.collect();
    let rest = rest?;
    (rest.len() == apps).then_some((nodes, rest))
}

/// Exchanges the counts with Redis and stores what the others hold in `shared`. When Redis
/// cannot be asked the last figures stay (the limits keep their last cluster-wide reading).
pub async fn refresh(
    shared: &Shared,
    apps: &[String],
    scope: &scripts::Scope,
    registry: &str,
    conn: &mut Option<Connection>,
) {
    let counts: Vec<(&str, u64)> = apps
        .iter()
        .zip(&shared.app_connections)
        .map(|(app, n)| (app.as_str(), n.load(Ordering::Relaxed)))
        .collect();
    let cmd = exchange(&scope.prefix, &scope.node, registry, &counts);
    let Some(answer) = call(conn, cmd, "cluster limits").await else {
        return;
    };
    let Some((nodes, rest)) = read(&answer, apps.len()) else {
        tracing::warn!(answer = ?answer, "unexpected answer to the cluster limits exchange");
        return;
    };
    shared.cluster_nodes.store(nodes.max(1), Ordering::Relaxed);
    for (slot, n) in shared.app_connections_elsewhere.iter().zip(rest) {
        slot.store(n, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exchange_passes_each_app_with_its_count() {
        let cmd =
            String::from_utf8(exchange("rc:", "n1", "rc:nodes", &[("a", 3), ("b", 0)])).unwrap();
        assert!(cmd.contains("SCARD"), "{cmd}");
        assert!(
            cmd.ends_with("$3\r\nrc:\r\n$2\r\nn1\r\n$8\r\nrc:nodes\r\n$1\r\na\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n0\r\n"),
            "{cmd}"
        );
    }

    #[test]
    fn the_answer_gives_the_nodes_and_the_others_counts() {
        let answer: Vec<String> = ["3", "7", "0"].iter().map(|s| s.to_string()).collect();
        assert_eq!(read(&answer, 2), Some((3, vec![7, 0])));
        assert_eq!(read(&answer, 3), None);
        assert_eq!(read(&["x".to_string()], 0), None);
    }
}
