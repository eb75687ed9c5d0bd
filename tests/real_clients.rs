//! Real Pusher clients against the real binary: pusher-js, laravel-echo (reverb broadcaster),
//! and the Node and Python `pusher` server SDKs. Each scenario is a script in tests/clients;
//! these tests start the server, run the script and require its `ok`.

mod common;

use std::time::Duration;

use common::{run_client, spawn_client, Server};

#[test]
fn pusherjs_public_and_private_channels_with_node_sdk_auth() {
    let server = Server::start(&[]);
    run_client("pusherjs_channels.js", &[], &server).assert_ok();
}

#[test]
fn pusherjs_receives_events_triggered_by_the_python_sdk() {
    let server = Server::start(&[]);
    for channel in ["orders", "private-orders"] {
        let mut waiter = spawn_client("pusherjs_wait.js", &[channel, "paid", "2"], &server);
        waiter.wait_for_line("ready", Duration::from_secs(15));
        run_client(
            "python_trigger.py",
            &[channel, "paid", r#"{"id":1}"#],
            &server,
        )
        .assert_ok();
        run_client(
            "python_trigger.py",
            &[channel, "paid", r#"{"id":2}"#],
            &server,
        )
        .assert_ok();
        let out = waiter.finish();
        out.assert_ok();
        let data = out.ok_json();
        assert_eq!(data, serde_json::json!([{"id": 1}, {"id": 2}]), "{out}");
    }
}

#[test]
fn laravel_echo_reverb_receives_order_paid_on_a_private_channel() {
    let server = Server::start(&[]);
    run_client("echo_reverb.js", &[], &server).assert_ok();
}

#[test]
fn two_workers_clients_on_both_cores_receive_every_event() {
    let server = Server::start(&[("RINGCAST_WORKERS", "2")]);
    run_client("pusherjs_many.js", &["24", "20"], &server).assert_ok();
    let (_, health) = common::http_get(server.port, "/api/v1/websocket/health");
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(
        health["shards"].as_array().map(Vec::len),
        Some(2),
        "{health}"
    );
}
