//! Several ringcast nodes as one through a real redis-server: three nodes on one machine on
//! different ports, raw WebSocket subscribers (and pusher-js clients,
//! `tests/clients/publish_nodes.js`) on every node, events published through the REST API of
//! any node.
//!
//! Covered: every event reaches every node exactly once (a node never re-delivers its own),
//! a batch keeps its order on every node, client events cross nodes but never come back to
//! their sender, `socket_id` exclusion across nodes, a node that cannot reach Redis at start exits naming
//! the address, and a Redis restart: 503 (counted in /metrics) while it is down, traffic again
//! once it is back. Everything is bounded in time.

mod common;

#[path = "support/raw_client.rs"]
mod raw_client;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, http_get, http_post, run_client, Server, APP_ID, APP_KEY, APP_SECRET};
use raw_client::{RawClient, Subscriber};
use redis_server::RedisServer;

const CHANNEL: &str = "news";
const WAIT: Duration = Duration::from_secs(20);

/// Starts `n` nodes joined through `redis`.
fn nodes(redis: &RedisServer, n: usize) -> Vec<Server> {
    let port = redis.port.to_string();
    let env = [
        ("REVERB_SCALING_ENABLED", "true"),
        ("REDIS_HOST", "127.0.0.1"),
        ("REDIS_PORT", port.as_str()),
    ];
    (0..n).map(|_| Server::start(&env)).collect()
}

/// Publishes event `name` on [`CHANNEL`] through `node`'s REST API; returns the status.
fn publish(node: &Server, name: &str, socket_id: Option<&str>) -> u16 {
    let mut body = serde_json::json!({"name": name, "channels": [CHANNEL], "data": "{}"});
    if let Some(id) = socket_id {
        body["socket_id"] = id.into();
    }
    signed_post(node, "events", &body.to_string())
}

/// POSTs `body` to `/apps/{id}/{endpoint}` of `node`, signed as the server SDKs sign.
fn signed_post(node: &Server, endpoint: &str, body: &str) -> u16 {
    let path = format!("/apps/{APP_ID}/{endpoint}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let query = ringcast::proto::api::sign_request(
        "POST",
        &path,
        &[],
        body.as_bytes(),
        APP_KEY,
        APP_SECRET,
        now,
    );
    http_post(node.port, &format!("{path}?{query}"), body).0
}

/// Two subscribers of [`CHANNEL`] per node (so more than one core takes part).
fn subscribers(nodes: &[Server]) -> Vec<Subscriber> {
    nodes
        .iter()
        .flat_map(|n| (0..2).map(|_| Subscriber::connect(n.port, APP_KEY, &[CHANNEL])))
        .collect()
}

/// Reads `sub`'s events until `last` arrives; returns how often each name arrived.
fn events_until(sub: &mut Subscriber, last: &str) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    loop {
        let event = sub.next_event();
        assert_eq!(event["channel"], CHANNEL, "{event}");
        let name = event["event"].as_str().unwrap().to_owned();
        *seen.entry(name.clone()).or_insert(0) += 1;
        if name == last {
            return seen;
        }
    }
}

/// How many nodes Redis says are subscribed to the scaling channel.
fn subscribed_nodes(redis: &RedisServer) -> Option<u64> {
    let mut stream = TcpStream::connect(("127.0.0.1", redis.port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .ok()?;
    stream.write_all(b"PUBSUB NUMSUB reverb\r\n").ok()?;
    let mut reply = [0u8; 128];
    let n = stream.read(&mut reply).ok()?;
    let text = String::from_utf8_lossy(&reply[..n]);
    text.lines().last()?.strip_prefix(':')?.trim().parse().ok()
}

/// Waits until `ok` holds, polling; panics with `what` after [`WAIT`].
fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !ok() {
        assert!(Instant::now() < deadline, "{what} within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_publish_on_any_node_reaches_every_subscriber_on_every_node_once() {
    let redis = RedisServer::start(&[]);
    let nodes = nodes(&redis, 3);
    let mut subs = subscribers(&nodes);
    for (i, node) in nodes.iter().enumerate() {
        assert_eq!(publish(node, &format!("from-{i}"), None), 200);
    }
    // Published after the others from the same node: once it is in, so are they (one Redis
    // connection per node keeps a node's order); any duplicate would be counted.
    assert_eq!(publish(&nodes[0], "end", None), 200);
    for (i, sub) in subs.iter_mut().enumerate() {
        let mut seen = events_until(sub, "end");
        // Events from nodes 1 and 2 may still be on their way after "end" from node 0.
        for late in ["from-1", "from-2"] {
            if !seen.contains_key(late) {
                for (name, n) in events_until(sub, late) {
                    *seen.entry(name).or_insert(0) += n;
                }
            }
        }
        let want: BTreeMap<String, usize> = ["from-0", "from-1", "from-2", "end"]
            .iter()
            .map(|n| (n.to_string(), 1))
            .collect();
        assert_eq!(seen, want, "subscriber {i} (node {})", i / 2);
    }
    // The excluded socket is skipped on its own node even when another node published.
    let skipped = subs[0].socket_id.clone();
    assert_eq!(publish(&nodes[2], "not-for-0", Some(&skipped)), 200);
    assert_eq!(publish(&nodes[2], "last", None), 200);
    for (i, sub) in subs.iter_mut().enumerate() {
        let seen = events_until(sub, "last");
        let want_skip = usize::from(i != 0);
        assert_eq!(
            seen.get("not-for-0").copied().unwrap_or(0),
            want_skip,
            "subscriber {i}: {seen:?}"
        );
        assert_eq!(seen.len(), 1 + want_skip, "only those two: {seen:?}");
    }
}

/// What an application sees: pusher-js clients on every node, events published through the
/// Node SDK on each node in turn, each counted by its unique id at every client.
#[test]
fn pusher_js_clients_on_every_node_get_each_node_s_events_exactly_once() {
    let redis = RedisServer::start(&[]);
    let nodes = nodes(&redis, 3);
    let ports: Vec<String> = nodes.iter().map(|n| n.port.to_string()).collect();
    run_client("publish_nodes.js", &[&ports.join(","), "20"], &nodes[0]).assert_ok();
}

#[test]
fn a_node_that_cannot_reach_redis_exits_naming_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let redis_port = free_port().to_string();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ringcast"));
    for (k, _) in std::env::vars() {
        if k.starts_with("REVERB_") || k.starts_with("RINGCAST_") || k.starts_with("REDIS_") {
            cmd.env_remove(k);
        }
    }
    let port = free_port().to_string();
    let child = cmd
        .current_dir(dir.path())
        .envs([
            ("REVERB_SERVER_HOST", "127.0.0.1"),
            ("REVERB_SERVER_PORT", port.as_str()),
            ("REVERB_APP_ID", APP_ID),
            ("REVERB_APP_KEY", APP_KEY),
            ("REVERB_APP_SECRET", APP_SECRET),
            ("REVERB_SCALING_ENABLED", "true"),
            ("REDIS_HOST", "127.0.0.1"),
            ("REDIS_PORT", redis_port.as_str()),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < WAIT, "took {:?}", started.elapsed());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot reach Redis at 127.0.0.1:{redis_port}"))
            && stderr.contains("REDIS_HOST"),
        "{stderr}"
    );
}

#[test]
fn while_redis_is_down_a_publish_answers_503_and_traffic_resumes_after() {
    let mut redis = RedisServer::start(&[]);
    let nodes = nodes(&redis, 3);
    let mut subs = subscribers(&nodes);
    assert_eq!(publish(&nodes[1], "before", None), 200);
    for sub in &mut subs {
        assert_eq!(events_until(sub, "before").len(), 1);
    }

    redis.kill();
    // Until node 0 notices, a publish is still delivered locally (and counted unpublished).
    wait_for("a publish answers 503", || {
        publish(&nodes[0], "racing", None) == 503
    });
    assert_eq!(publish(&nodes[0], "lost", None), 503);
    let (status, metrics) = http_get(nodes[0].port, "/metrics");
    assert_eq!(status, 200);
    let refused: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("ringcast_scaling_unforwarded_events_total "))
        .expect("the metric is exported")
        .parse()
        .unwrap();
    assert!(refused >= 1, "{refused}");
    // What the link fails to carry is counted, never silently dropped: events accepted before
    // the node noticed (unpublished) and other nodes' events it never received (missed).
    for counter in ["unpublished", "missed"] {
        let name = format!("ringcast_scaling_{counter}_events_total ");
        let line = metrics.lines().find(|l| l.starts_with(&name));
        let value = line.and_then(|l| l[name.len()..].parse::<u64>().ok());
        assert!(value.is_some(), "{name}is exported: {metrics}");
    }

    redis.restart();
    wait_for("every node subscribed again", || {
        subscribed_nodes(&redis) == Some(3)
    });
    for node in &nodes {
        wait_for("publishing accepted again", || {
            publish(node, "probe", None) == 200
        });
    }
    assert_eq!(publish(&nodes[2], "after", None), 200);
    for (i, sub) in subs.iter_mut().enumerate() {
        let seen = events_until(sub, "after");
        // No "lost" event was published anywhere: it was refused, not half-delivered.
        assert!(!seen.contains_key("lost"), "subscriber {i}: {seen:?}");
    }
}

/// A client on `node` subscribed to private `channel`, signed as an auth endpoint would.
fn private_client(node: &Server, channel: &str) -> RawClient {
    let mut client = RawClient::connect_port(node.port, &format!("/app/{APP_KEY}?protocol=7"));
    let socket_id = client.established();
    let auth =
        ringcast::proto::pusher::channel_auth(APP_KEY, APP_SECRET, &socket_id, channel, None);
    client.send_text(
        &serde_json::json!({"event": "pusher:subscribe", "data": {"channel": channel, "auth": auth}})
            .to_string(),
    );
    let msg = client.recv_json();
    assert_eq!(
        msg["event"], "pusher_internal:subscription_succeeded",
        "{msg}"
    );
    client
}

#[test]
fn a_client_event_reaches_the_other_nodes_and_never_its_sender() {
    let redis = RedisServer::start(&[]);
    let nodes = nodes(&redis, 3);
    let channel = "private-chat";
    let mut clients: Vec<RawClient> = nodes.iter().map(|n| private_client(n, channel)).collect();
    let typing =
        serde_json::json!({"event": "client-typing", "channel": channel, "data": {"who": "a"}});
    clients[0].send_text(&typing.to_string());
    for (i, client) in clients.iter_mut().enumerate().skip(1) {
        let got = client.recv_json();
        assert_eq!(got["event"], "client-typing", "client on node {i}: {got}");
        assert_eq!(got["data"], serde_json::json!({"who": "a"}));
    }
    // The sender's next message answers its ping: its own event did not come back by Redis.
    clients[0].send_text(r#"{"event":"pusher:ping","data":{}}"#);
    assert_eq!(clients[0].recv_json()["event"], "pusher:pong");
}

#[test]
fn a_batch_published_on_one_node_arrives_in_order_on_every_node() {
    let redis = RedisServer::start(&[]);
    let nodes = nodes(&redis, 3);
    let mut subs = subscribers(&nodes);
    let batch: Vec<_> = (0..5)
        .map(|i| serde_json::json!({"name": format!("b{i}"), "channel": CHANNEL, "data": "{}"}))
        .collect();
    let body = serde_json::json!({ "batch": batch }).to_string();
    assert_eq!(signed_post(&nodes[1], "batch_events", &body), 200);
    for (i, sub) in subs.iter_mut().enumerate() {
        let names: Vec<String> = (0..5)
            .map(|_| sub.next_event()["event"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["b0", "b1", "b2", "b3", "b4"], "subscriber {i}");
    }
}
