//! Protocol parity with Pusher, proved by real clients (tests/clients): presence, client events,
//! user sign-in and termination, encrypted and cache channels, and the channel REST API through
//! the Python SDK. Every test runs the server with two shards and spreads the clients over both
//! (the scripts check it from the socket ids; the tests check `/api/v1/websocket/health`).

mod common;

use std::time::Duration;

use common::{http_get, run_client, spawn_client_env, RunningClient, Server};
use serde_json::{json, Value};

const WORKERS: &str = "2";
const LINE: Duration = Duration::from_secs(20);

fn two_shards(extra: &[(&str, &str)]) -> Server {
    let mut env = vec![("RINGCAST_WORKERS", WORKERS)];
    env.extend_from_slice(extra);
    Server::start(&env)
}

fn spawn(script: &str, args: &[&str], server: &Server) -> RunningClient {
    spawn_client_env(script, args, server, &[("RINGCAST_WORKERS", WORKERS)])
}

/// Both shards hold connections right now.
fn assert_both_shards_busy(server: &Server) {
    let (code, body) = http_get(server.port, "/api/v1/websocket/health");
    assert_eq!(code, 200, "{body}");
    let health: Value = serde_json::from_str(&body).expect("health is JSON");
    let shards = health["shards"].as_array().expect("shards array");
    assert_eq!(shards.len(), 2, "{health}");
    assert!(
        shards.iter().all(|n| n.as_u64().unwrap_or(0) > 0),
        "connections not on both shards: {health}"
    );
}

/// Run a script that opens a connection pool first: check the shards once the pool is up.
fn run_spread(script: &str, server: &Server) {
    let mut client = spawn(script, &[], server);
    client.wait_for_line("pool ", LINE);
    assert_both_shards_busy(server);
    client.finish().assert_ok();
}

#[test]
fn presence_members_and_member_events_across_shards() {
    let server = two_shards(&[]);
    run_spread("presence.js", &server);
}

#[test]
fn presence_member_limit_and_user_info_size() {
    let server = two_shards(&[("REVERB_APP_MAX_PRESENCE_MEMBERS", "2")]);
    run_spread("presence_limit.js", &server);
}

#[test]
fn client_events_private_presence_public_and_rate_limit() {
    let server = two_shards(&[]);
    run_spread("client_events.js", &server);
}

#[test]
fn signin_send_to_user_and_terminate_user_connections() {
    let server = two_shards(&[]);
    run_spread("signin.js", &server);
}

#[test]
fn watchlist_online_and_offline_through_pusher_js() {
    let server = two_shards(&[]);
    run_spread("watchlist.js", &server);
}

#[test]
fn encrypted_channel_end_to_end_and_no_client_events() {
    let server = two_shards(&[]);
    run_spread("encrypted.js", &server);
}

#[test]
fn cache_channel_replays_last_event_and_reports_cache_miss() {
    let server = two_shards(&[]);
    run_spread("cache_channel.js", &server);
}

#[test]
fn python_sdk_channel_queries_and_trigger_info_across_shards() {
    let server = two_shards(&[]);
    // u1 twice + u2 on presence-room; two on orders; one on private-b. Spread over both shards.
    let mut hold = spawn_client_env(
        "hold.js",
        &[
            "presence-room@u1",
            "presence-room@u1",
            "presence-room@u2",
            "orders",
            "orders",
            "private-b",
        ],
        &server,
        &[
            ("RINGCAST_WORKERS", WORKERS),
            ("CLIENT_TIMEOUT_MS", "28000"),
        ],
    );
    let ready = hold.wait_for_line("ready ", LINE);
    assert_both_shards_busy(&server);
    let placed: Value = serde_json::from_str(ready.trim_start_matches("ready ")).unwrap();
    let shards: Vec<u64> = placed
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p[0].as_str().unwrap().starts_with("presence-room@u1"))
        .map(|p| p[2].as_u64().unwrap())
        .collect();
    assert_eq!(shards.len(), 2, "{placed}");
    assert_ne!(shards[0], shards[1], "u1's two tabs on one shard: {placed}");

    let out = run_client("python_channels.py", &["presence-room"], &server);
    let answers = out.ok_json();
    assert_eq!(
        answers["presence"],
        json!({"channels": {"presence-room": {"user_count": 2}}}),
        "channels_info(prefix presence-, user_count)\n{out}"
    );
    assert_eq!(
        answers["channel"],
        json!({"occupied": true, "user_count": 2, "subscription_count": 3}),
        "channel_info(presence-room, user_count + subscription_count)\n{out}"
    );
    let mut users: Vec<String> = answers["users"]["users"]
        .as_array()
        .unwrap_or_else(|| panic!("users_info has no users array\n{out}"))
        .iter()
        .map(|u| u["id"].as_str().unwrap_or_default().to_string())
        .collect();
    users.sort();
    assert_eq!(users, ["u1", "u2"], "users_info(presence-room)\n{out}");
    assert_eq!(
        answers["all"],
        json!({"channels": {"orders": {}, "presence-room": {}, "private-b": {}}}),
        "channels_info()\n{out}"
    );

    let info = |channel: &str, attrs: &str| {
        let mut c = spawn("trigger_info.js", &[channel, "probe", attrs], &server);
        c.wait_for_line("ok", LINE);
        c.finish().ok_json()
    };
    assert_eq!(
        info("orders", "subscription_count"),
        json!({"channels": {"orders": {"subscription_count": 2}}}),
        "trigger orders with info=subscription_count"
    );
    assert_eq!(
        info("presence-room", "subscription_count,user_count"),
        json!({"channels": {"presence-room": {"subscription_count": 3, "user_count": 2}}}),
        "trigger presence-room with info=subscription_count,user_count"
    );
    drop(hold);
}
