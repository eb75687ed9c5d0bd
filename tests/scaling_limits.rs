//! Per-app limits counted across ringcast nodes joined through a real redis-server.
//!
//! Covered: `max_connections` refuses the connection over the cluster-wide limit on any
//! node, with the single node's 4004, and admits again once a connection on another node has
//! gone; `max_backend_events_per_second` is the whole cluster's budget, refused with the
//! single node's 429.

mod common;

#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/raw_client.rs"]
mod raw_client;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::time::{Duration, Instant};

use cluster::nodes;
use common::{http_post, signed_path, Server, APP_KEY};
use raw_client::RawClient;
use redis_server::RedisServer;
use serde_json::Value;

/// Opens a connection on `port`: its first message, `connection_established` or the error,
/// and the client.
fn open(port: u16) -> (Value, RawClient) {
    let mut client = RawClient::connect_port(port, &format!("/app/{APP_KEY}?protocol=7"));
    (client.recv_json(), client)
}

/// Opens connections on `port` until one is refused (the other nodes' counts reach this
/// node within a refresh); panics after 5 s. Admitted ones are kept in `kept`.
fn refused_on(port: u16, kept: &mut Vec<RawClient>) -> RawClient {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (first, client) = open(port);
        if first["event"] == "pusher:error" {
            return client;
        }
        assert_eq!(first["event"], "pusher:connection_established", "{first}");
        kept.push(client);
        assert!(Instant::now() < deadline, "never refused on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_connection_limit_counts_every_node() {
    let redis = RedisServer::start(&[]);
    let nodes = nodes(&redis, 3, &[("REVERB_APP_MAX_CONNECTIONS", "3")]);
    let mut held: Vec<RawClient> = nodes.iter().map(|n| open(n.port)).map(|c| c.1).collect();
    std::thread::sleep(Duration::from_millis(800));
    // Each node holds one connection, under the limit of 3 on its own: the cluster is full.
    for node in &nodes {
        let mut extra = Vec::new();
        let mut refused = refused_on(node.port, &mut extra);
        assert!(extra.is_empty(), "{} admitted over the limit", extra.len());
        assert_eq!(refused.recv_close(), 4004, "the single node's close code");
    }
    // A connection gone on one node frees a place on another.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (first, _client) = open(nodes[0].port);
        if first["event"] == "pusher:connection_established" {
            break;
        }
        assert_eq!(first["data"]["code"], 4004, "{first}");
        assert!(
            Instant::now() < deadline,
            "the freed place never reached node 0"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn publish(node: &Server) -> (u16, String) {
    let body = r#"{"name":"e","channel":"other","data":"1"}"#;
    let path = signed_path(node, "POST", "/apps/424242/events", &[], body);
    http_post(node.port, &path, body)
}

#[test]
fn the_rest_event_budget_is_the_clusters() {
    let redis = RedisServer::start(&[]);
    // 12 events a second: 6 per core on a single node of 2 workers, 2 per core over 3 nodes.
    let nodes = nodes(
        &redis,
        3,
        &[("REVERB_APP_MAX_BACKEND_EVENTS_PER_SECOND", "12")],
    );
    std::thread::sleep(Duration::from_millis(800));
    let mut accepted = 0;
    let refusal = loop {
        let (status, body) = publish(&nodes[0]);
        if status != 200 {
            break (status, body);
        }
        accepted += 1;
        assert!(accepted < 30, "30 events in a row accepted");
    };
    assert_eq!(refusal.0, 429, "{}", refusal.1);
    assert!(
        refusal.1.contains("max_backend_events_per_second"),
        "{}",
        refusal.1
    );
    // Node 0's share, its 2 cores' budgets of 2, over at most two one-second windows; a
    // budget per node would have admitted 12 at least.
    assert!(
        (2..=8).contains(&accepted),
        "{accepted} accepted on one node"
    );
}
