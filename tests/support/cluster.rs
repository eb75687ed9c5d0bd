//! Helpers for tests of several ringcast nodes joined through Redis: starting the nodes,
//! joining a presence channel with a raw client, reading member events, counting the channel
//! webhooks a receiver got.
#![allow(dead_code)]

use crate::common::{Server, APP_KEY, APP_SECRET};
use crate::raw_client::RawClient;
use crate::redis_server::RedisServer;
use std::collections::BTreeMap;

use serde_json::{json, Value};

pub const ROOM: &str = "presence-room";

/// Starts `n` nodes joined through `redis`.
pub fn nodes(redis: &RedisServer, n: usize, extra: &[(&str, &str)]) -> Vec<Server> {
    let port = redis.port.to_string();
    let env = [
        ("REVERB_SCALING_ENABLED", "true"),
        ("REDIS_HOST", "127.0.0.1"),
        ("REDIS_PORT", port.as_str()),
        ("RINGCAST_WORKERS", "2"),
    ];
    let env: Vec<(&str, &str)> = env.iter().chain(extra).copied().collect();
    (0..n).map(|_| Server::start(&env)).collect()
}

/// A client on `node` that joined [`ROOM`] as `user`, with its `subscription_succeeded`
/// member ids.
pub struct Member {
    pub client: RawClient,
    pub listed: Vec<String>,
}

pub fn join(node: &Server, user: &str) -> Member {
    join_channel(node, ROOM, user)
}

/// A client on `node` that joined presence channel `channel` as `user`.
pub fn join_channel(node: &Server, channel: &str, user: &str) -> Member {
    let mut client = RawClient::connect_port(node.port, &format!("/app/{APP_KEY}?protocol=7"));
    let socket_id = client.established();
    let data = json!({"user_id": user, "user_info": {"name": user}}).to_string();
    let auth = ringcast::proto::pusher::channel_auth(
        APP_KEY,
        APP_SECRET,
        &socket_id,
        channel,
        Some(&data),
    );
    client.send_text(
        &json!({"event": "pusher:subscribe", "data": {"channel": channel, "auth": auth, "channel_data": data}})
            .to_string(),
    );
    let msg = client.recv_json();
    assert_eq!(
        msg["event"], "pusher_internal:subscription_succeeded",
        "{msg}"
    );
    let presence: Value = serde_json::from_str(msg["data"].as_str().unwrap()).unwrap();
    let mut listed: Vec<String> = presence["presence"]["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    assert_eq!(
        presence["presence"]["count"].as_u64(),
        Some(listed.len() as u64)
    );
    assert_eq!(
        presence["presence"]["hash"][user]["name"], user,
        "{presence}"
    );
    Member { client, listed }
}

/// The next member event `client` receives on [`ROOM`]: (`added` or `removed`, user id).
pub fn member_event(client: &mut RawClient) -> (String, String) {
    member_event_on(client, ROOM)
}

/// The next member event `client` receives on `channel`: (`added` or `removed`, user id).
pub fn member_event_on(client: &mut RawClient, channel: &str) -> (String, String) {
    loop {
        let msg = client.recv_json();
        let event = msg["event"].as_str().unwrap_or_default();
        let kind = match event.strip_prefix("pusher_internal:member_") {
            Some(kind) => kind.to_owned(),
            None => continue,
        };
        assert_eq!(msg["channel"], channel, "{msg}");
        let data: Value = serde_json::from_str(msg["data"].as_str().unwrap()).unwrap();
        return (kind, data["user_id"].as_str().unwrap().to_owned());
    }
}

/// A channel webhook event as the tests count it: (name, channel, user id or "").
pub type HookKey = (String, String, String);

/// How often each channel webhook event reached `pusher_webhook_receiver.py`, whose output is
/// `stdout`; every request must have passed the Pusher SDK's signature check.
pub fn hook_counts(stdout: &str) -> BTreeMap<HookKey, usize> {
    let mut counts = BTreeMap::new();
    for record in crate::common::hook_records(stdout) {
        assert_eq!(record["valid"], true, "{record}");
        for e in record["events"].as_array().unwrap() {
            let field = |k: &str| e[k].as_str().unwrap_or("").to_owned();
            *counts
                .entry((field("name"), field("channel"), field("user_id")))
                .or_default() += 1;
        }
    }
    counts
}

/// The counts of [`hook_counts`] when each of `events` (name, channel, user id) arrived once.
pub fn once_each(events: &[(&str, &str, &str)]) -> BTreeMap<HookKey, usize> {
    events
        .iter()
        .map(|(n, c, u)| ((n.to_string(), c.to_string(), u.to_string()), 1))
        .collect()
}

/// The settings that send the app's channel webhooks to `hooks` (a JSON list of receivers)
/// on this machine.
pub fn hook_env(hooks: &str) -> [(&'static str, &str); 2] {
    [
        ("RINGCAST_WEBHOOKS_ALLOWED_SUBNETS", "127.0.0.0/8"),
        ("REVERB_APP_WEBHOOKS", hooks),
    ]
}
