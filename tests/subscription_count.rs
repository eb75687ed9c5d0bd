//! The `subscription_count` channel webhook against the real binary (two workers): three
//! connections spread over both workers subscribe to one channel and then leave, and a local
//! receiver that checks every request with the Python `pusher` SDK sees the cluster-wide count
//! once per change (1, 2, 3, 2, 1, 0), never one event per core.

mod common;

use std::time::Duration;

use common::{free_port, spawn_client, spawn_client_env, Server};
use serde_json::{json, Value};

#[test]
fn the_subscription_count_is_reported_once_per_cluster_wide_change() {
    let port = free_port();
    let hooks = json!([{"url": format!("http://127.0.0.1:{port}/count"),
                        "event_types": ["subscription_count"]}])
    .to_string();
    let server = Server::start(&[
        ("RINGCAST_WORKERS", "2"),
        ("RINGCAST_WEBHOOKS_ALLOWED_SUBNETS", "127.0.0.0/8"),
        ("REVERB_APP_WEBHOOKS", hooks.as_str()),
    ]);
    let port_s = port.to_string();
    let mut receiver = spawn_client(
        "pusher_webhook_receiver.py",
        &[&port_s, "/count=6"],
        &server,
    );
    receiver.wait_for_line("listening", Duration::from_secs(10));
    let channel = format!("counted-{port}");
    let specs = [channel.as_str(); 3];
    let mut holder = spawn_client_env("hold.js", &specs, &server, &[("HOLD_MS", "1000")]);
    let ready = holder.wait_for_line("ready ", Duration::from_secs(10));
    let placed: Value = serde_json::from_str(&ready["ready ".len()..]).unwrap();
    let shards: Vec<u64> = placed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[2].as_u64().unwrap())
        .collect();
    assert!(shards.contains(&0) && shards.contains(&1), "{placed}");
    assert!(holder.finish().success());
    let out = receiver.finish();
    assert!(out.success(), "{out}");
    let mut counts = Vec::new();
    for record in out.stdout.lines().filter_map(|l| l.strip_prefix("hook ")) {
        let record: Value = serde_json::from_str(record).unwrap();
        assert_eq!(record["valid"], true, "pusher SDK refused {record}");
        for e in record["events"].as_array().unwrap() {
            assert_eq!(
                (&e["name"], &e["channel"]),
                (&json!("subscription_count"), &json!(channel))
            );
            counts.push(e["subscription_count"].as_u64().unwrap());
        }
    }
    assert_eq!(counts, [1, 2, 3, 2, 1, 0], "{out}");
}
