//! Cache channels across ringcast nodes joined through a real redis-server: the last event of
//! a `cache-*` channel is the cluster's, not each node's.
//!
//! Covered: pusher-js clients (`tests/clients/cache_nodes.js`) on another node than the
//! publisher get the cached event of `cache-*` and `private-cache-*` channels, and so do
//! clients on a node started after the event (it can only have come from Redis); an empty
//! cache channel answers `pusher:cache_miss`. The `cache_miss` webhook fires once per
//! subscription that misses, whichever node it is on, and not for a channel whose event
//! another node published; the cached event expires with the app's `cache_ttl`
//! on every node, the one that published it included.

mod common;

#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/raw_client.rs"]
mod raw_client;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::collections::BTreeMap;
use std::time::Duration;

use cluster::{hook_counts, hook_env, nodes};
use common::{free_port, run_client, signed_call, spawn_client, Server, APP_ID, APP_KEY};
use raw_client::Subscriber;
use redis_server::RedisServer;
use serde_json::{json, Value};

/// A name no earlier run used (Redis starts empty per test, but the clients' names must not
/// collide between the two runs of one test either).
fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{}x{nanos}", std::process::id())
}

/// Publishes `update` with `data` on `channel` through `node`'s REST API.
fn publish(node: &Server, channel: &str, data: &str) {
    let body = json!({"name": "update", "channels": [channel], "data": data}).to_string();
    let (status, answer) = signed_call(node, "POST", &format!("/apps/{APP_ID}/events"), &body);
    assert_eq!(status, 200, "{answer}");
}

/// The first message a new subscriber of `channel` on `node` gets after its confirmation.
fn first_after_subscribe(node: &Server, channel: &str) -> (Subscriber, Value) {
    let mut sub = Subscriber::connect(node.port, APP_KEY, &[channel]);
    let msg = sub.client.recv_json();
    (sub, msg)
}

#[test]
fn pusher_js_clients_get_a_cache_channel_event_on_every_node_and_on_a_later_node() {
    let redis = RedisServer::start(&[]);
    let mut nodes = nodes(&redis, 2, &[]);
    let id = unique();
    let b = nodes[1].port.to_string();
    // Published through the first node; read by a client on the second.
    run_client("cache_nodes.js", &["publish", &id, &b], &nodes[0]).assert_ok();
    nodes.extend(cluster::nodes(&redis, 1, &[]));
    let c = nodes[2].port.to_string();
    run_client("cache_nodes.js", &["read", &id, &c], &nodes[2]).assert_ok();
}

#[test]
fn cache_miss_webhooks_fire_once_per_missing_subscription() {
    let port = free_port();
    let hooks = json!([{
        "url": format!("http://127.0.0.1:{port}/miss"),
        "event_types": ["cache_miss"],
    }])
    .to_string();
    let redis = RedisServer::start(&[]);
    let env = hook_env(&hooks);
    let mut nodes = nodes(&redis, 2, &env);
    let mut receiver = spawn_client(
        "pusher_webhook_receiver.py",
        &[&port.to_string(), "/miss=2"],
        &nodes[0],
    );
    receiver.wait_for_line("listening", std::time::Duration::from_secs(10));

    publish(&nodes[0], "cache-full", "{\"v\":1}");
    nodes.extend(cluster::nodes(&redis, 1, &env));
    // The new node never saw the event: it comes from Redis, with no cache_miss.
    let (_full, msg) = first_after_subscribe(&nodes[2], "cache-full");
    assert_eq!(msg["event"], "update", "{msg}");
    assert_eq!(msg["data"], "{\"v\":1}", "{msg}");
    // One miss on each of two nodes: two webhooks, one per subscription.
    let misses: Vec<Value> = [1, 2]
        .iter()
        .map(|&i| first_after_subscribe(&nodes[i], "cache-void").1)
        .collect();
    for msg in &misses {
        assert_eq!(msg["event"], "pusher:cache_miss", "{msg}");
    }

    let out = receiver.finish();
    assert!(out.success(), "{out}");
    let want = BTreeMap::from([(("cache_miss".into(), "cache-void".into(), "".into()), 2)]);
    assert_eq!(hook_counts(&out.stdout), want, "{out}");
}

#[test]
fn a_cached_event_expires_with_the_app_cache_ttl_on_every_node() {
    let redis = RedisServer::start(&[]);
    let env = [("REVERB_APP_CACHE_TTL", "2")];
    let mut nodes = nodes(&redis, 2, &env);
    publish(&nodes[0], "cache-full", "{\"v\":1}");
    // After the app's cache_ttl (2 s) neither the nodes nor Redis hold the event. (Only a
    // lower bound on the time: a slow start of a node cannot make this fail.)
    std::thread::sleep(Duration::from_millis(2300));
    nodes.extend(cluster::nodes(&redis, 1, &env));
    for node in [&nodes[0], &nodes[1], &nodes[2]] {
        let (_sub, msg) = first_after_subscribe(node, "cache-full");
        assert_eq!(msg["event"], "pusher:cache_miss", "{msg}");
    }
}
