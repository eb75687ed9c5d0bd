//! Cache channels across nodes: the last event of each `cache-*` channel kept in Redis, so a
//! subscriber on any node, including one started after the event, gets it.
//!
//! The publishing node writes the event's Pusher message to `P cache:A:C` with the app's
//! `cache_ttl` as expiry (`PX`), so Redis drops it when every node's own copy would have
//! expired too. Writes are coalesced per pass of the cluster task (only the last event of a
//! channel within a pass matters) into one script. A shard whose owner core has no copy of
//! a channel asks here ([`fetch`]); the answer carries the message and its remaining time,
//! so the shard keeps its copy exactly as long as Redis does.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::scripts::{eval_plain, Scope};
use super::task::call;
use super::{Cluster, ClusterDone, Output};
use crate::broker::Connection;
use crate::proto::ws::parse_header;
use crate::shard::cores::msg::ConnRef;

/// ARGV: prefix, then app id, channel, message, ttl in ms quadruples. Sets each channel's
/// last event with its expiry.
const STORE: &str = r#"
local p = ARGV[1]
for i = 2, #ARGV, 4 do
  redis.call('SET', p .. 'cache:' .. ARGV[i] .. ':' .. ARGV[i + 1], ARGV[i + 2], 'PX', ARGV[i + 3])
end
return {}
"#;

/// ARGV: prefix, app id, channel. Answers `{}` when the channel has no event, else the
/// message and its remaining time in ms.
const FETCH: &str = r#"
local k = ARGV[1] .. 'cache:' .. ARGV[2] .. ':' .. ARGV[3]
local v = redis.call('GET', k)
if not v then return {} end
return {v, tostring(redis.call('PTTL', k))}
"#;

/// The Pusher message (JSON text) a WebSocket text frame carries; `None` for a frame that
/// cannot be read back.
pub fn frame_text(frame: &Bytes) -> Option<&str> {
    let header = parse_header(frame).ok()??;
    std::str::from_utf8(frame.get(header.header_len..)?).ok()
}

/// This node's cache channel events not yet written, per (app, channel): the last one wins.
#[derive(Default)]
pub struct CacheWrites(BTreeMap<(usize, Arc<str>), (Bytes, u64)>);

impl CacheWrites {
    /// Records the latest event `frame` of `channel`, to expire after `ttl_ms`.
    pub fn add(&mut self, app: usize, channel: Arc<str>, frame: Bytes, ttl_ms: u64) {
        self.0.insert((app, channel), (frame, ttl_ms));
    }

    /// Writes the pending events in one script. A write that finds Redis away is lost from
    /// the cluster (logged); each node still keeps the events it received itself.
    pub async fn flush(&mut self, cluster: &Cluster, scope: &Scope, conn: &mut Option<Connection>) {
        if self.0.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.0);
        let rows: Vec<(&str, &str, &str, String)> = pending
            .iter()
            .filter_map(|((app, channel), (frame, ttl))| {
                let text = frame_text(frame)?;
                Some((
                    cluster.apps[*app].as_str(),
                    &**channel,
                    text,
                    ttl.to_string(),
                ))
            })
            .collect();
        let mut args: Vec<&str> = vec![&scope.prefix];
        for (app, channel, text, ttl) in &rows {
            args.extend([*app, *channel, *text, ttl.as_str()]);
        }
        if call(conn, eval_plain(STORE, &args), "cache channel events")
            .await
            .is_none()
        {
            tracing::warn!(
                channels = rows.len(),
                "cache channel events not recorded in Redis; other nodes keep what they received"
            );
        }
    }
}

/// Reads `channel`'s last event from Redis for a subscriber on shard `from` and queues the
/// answer; no event, or Redis away, answers `None` (a cache miss).
pub async fn fetch(
    cluster: &Cluster,
    scope: &Scope,
    conn: &mut Option<Connection>,
    (from, app): (usize, usize),
    channel: Arc<str>,
    subscriber: ConnRef,
) {
    let cmd = eval_plain(FETCH, &[&scope.prefix, &cluster.apps[app], &channel]);
    let found = call(conn, cmd, "cache channel fetch")
        .await
        .and_then(read_fetched);
    let done = ClusterDone::CacheFetched {
        app,
        channel,
        conn: subscriber,
        found,
    };
    cluster.push(Output::Shard(from, done));
}

/// Reads [`FETCH`]'s answer: the message frame and how long Redis keeps it.
fn read_fetched(answer: Vec<String>) -> Option<(Bytes, Duration)> {
    let [text, ttl]: [String; 2] = answer.try_into().ok()?;
    // PTTL answers -1 for a key without expiry (written by hand): keep it like a fresh one.
    let left = ttl.parse::<i64>().ok()?;
    let left = Duration::from_millis(u64::try_from(left).unwrap_or(u64::MAX));
    Some((crate::proto::pusher::text_frame(&text), left))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_fetch_answer() {
        assert!(read_fetched(vec![]).is_none(), "no event: a miss");
        let (frame, left) = read_fetched(vec!["{\"event\":\"x\"}".into(), "1500".into()]).unwrap();
        assert_eq!(frame_text(&frame), Some("{\"event\":\"x\"}"));
        assert_eq!(left, Duration::from_millis(1500));
        let (_, forever) = read_fetched(vec!["{}".into(), "-1".into()]).unwrap();
        assert_eq!(forever, Duration::from_millis(u64::MAX));
    }
}
