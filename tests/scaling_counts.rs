//! Channel counts and Pusher channel webhooks across ringcast nodes joined through a real
//! redis-server: three nodes, raw WebSocket clients spread over them.
//!
//! Covered: `/channels`, `/channels/{name}` and `/channels/{name}/users` asked on any node
//! answer for the whole cluster (and follow unsubscribes), and channel_occupied /
//! channel_vacated / member_added / member_removed webhooks are sent once per cluster-wide
//! transition, whichever nodes the connections were on; sendToUser events and
//! `terminate_connections` sent to one node reach the user's connections on the others; a
//! watcher hears a user with connections on several nodes go online and offline once.

mod common;

#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/raw_client.rs"]
mod raw_client;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::time::{Duration, Instant};

use cluster::{hook_counts, hook_env, join, nodes, once_each, ROOM};
use common::{free_port, signed_call, spawn_client, Server, APP_ID, APP_KEY, APP_SECRET};
use raw_client::{RawClient, Subscriber};
use redis_server::RedisServer;
use ringcast::proto::ws::Message;
use serde_json::{json, Value};

const NEWS: &str = "news";

fn get(node: &Server, path: &str) -> Value {
    let (status, body) = signed_call(node, "GET", &format!("/apps/{APP_ID}/{path}"), "");
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// Polls `path` on `node` until `want` holds (counts follow subscriptions within ms).
fn eventually(node: &Server, path: &str, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let body = get(node, path);
        if want(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "{path} still answers {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn channel_rest_answers_for_every_node() {
    let redis = RedisServer::start(&[]);
    let nodes = nodes(&redis, 3, &[]);
    let _a = Subscriber::connect(nodes[0].port, APP_KEY, &[NEWS]);
    let b = Subscriber::connect(nodes[1].port, APP_KEY, &[NEWS]);
    let _c = Subscriber::connect(nodes[1].port, APP_KEY, &[NEWS]);
    let _u1 = join(&nodes[0], "u1");
    let _u1_again = join(&nodes[2], "u1");
    let _u2 = join(&nodes[1], "u2");

    let news = get(&nodes[2], "channels/news?info=subscription_count");
    assert_eq!(news, json!({"occupied": true, "subscription_count": 3}));
    let room = get(
        &nodes[1],
        &format!("channels/{ROOM}?info=subscription_count,user_count"),
    );
    assert_eq!(
        room,
        json!({"occupied": true, "subscription_count": 3, "user_count": 2})
    );
    let users = get(&nodes[0], &format!("channels/{ROOM}/users"));
    let mut ids: Vec<&str> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["u1", "u2"], "{users}");
    let listed = get(&nodes[2], "channels?info=subscription_count");
    assert_eq!(
        listed,
        json!({"channels": {"news": {"subscription_count": 3}, ROOM: {"subscription_count": 3}}})
    );
    let presence = get(
        &nodes[0],
        "channels?filter_by_prefix=presence-&info=user_count",
    );
    assert_eq!(presence, json!({"channels": {ROOM: {"user_count": 2}}}));

    drop(b);
    eventually(&nodes[0], "channels/news?info=subscription_count", |v| {
        v["subscription_count"] == 2
    });
    let empty = get(&nodes[1], "channels/nobody-here?info=subscription_count");
    assert_eq!(empty, json!({"occupied": false, "subscription_count": 0}));
}

#[test]
fn channel_webhooks_fire_once_per_cluster_transition() {
    let port = free_port();
    let hooks = json!([{
        "url": format!("http://127.0.0.1:{port}/all"),
        "event_types": ["channel_occupied", "channel_vacated", "member_added", "member_removed"],
    }])
    .to_string();
    let redis = RedisServer::start(&[]);
    let nodes = nodes(&redis, 3, &hook_env(&hooks));
    let mut receiver = spawn_client(
        "pusher_webhook_receiver.py",
        &[&port.to_string(), "/all=6"],
        &nodes[0],
    );
    receiver.wait_for_line("listening", Duration::from_secs(10));
    let subs: Vec<Subscriber> = (0..3)
        .map(|i| Subscriber::connect(nodes[i].port, APP_KEY, &[NEWS]))
        .collect();
    let members = [join(&nodes[0], "u1"), join(&nodes[1], "u1")];
    std::thread::sleep(Duration::from_millis(300));
    drop(subs);
    drop(members);

    let out = receiver.finish();
    assert!(out.success(), "{out}");
    let want = once_each(&[
        ("channel_occupied", NEWS, ""),
        ("channel_vacated", NEWS, ""),
        ("channel_occupied", ROOM, ""),
        ("channel_vacated", ROOM, ""),
        ("member_added", ROOM, "u1"),
        ("member_removed", ROOM, "u1"),
    ]);
    assert_eq!(hook_counts(&out.stdout), want, "{out}");
}

/// A connection on `node` signed in as `user` and subscribed to its `#server-to-user-` channel.
fn signed_in(node: &Server, user: &str) -> RawClient {
    let mut c = signin(node, json!({ "id": user }));
    let channel = format!("#server-to-user-{user}");
    c.send_text(&json!({"event": "pusher:subscribe", "data": {"channel": channel}}).to_string());
    assert_eq!(
        c.recv_json()["event"],
        "pusher_internal:subscription_succeeded"
    );
    c
}

/// A connection on `node` signed in with `user_data`.
fn signin(node: &Server, user_data: Value) -> RawClient {
    let mut c = RawClient::connect_port(node.port, &format!("/app/{APP_KEY}?protocol=7"));
    let socket_id = c.established();
    let user_data = user_data.to_string();
    let sig = ringcast::proto::pusher::user_signature(APP_SECRET, &socket_id, &user_data);
    c.send_text(
        &json!({"event": "pusher:signin", "data": {"auth": format!("{APP_KEY}:{sig}"), "user_data": user_data}})
            .to_string(),
    );
    assert_eq!(c.recv_json()["event"], "pusher:signin_success");
    c
}

/// The next message `c` receives, which must be a watchlist event: (name, user ids).
fn watch_event(c: &mut RawClient) -> (String, Value) {
    let msg = c.recv_json();
    assert_eq!(msg["event"], "pusher_internal:watchlist_events", "{msg}");
    let event = &msg["data"]["events"][0];
    (
        event["name"].as_str().unwrap().to_owned(),
        event["user_ids"].clone(),
    )
}

/// Proves `c` has nothing queued: a ping is answered by the next message.
fn quiet(c: &mut RawClient) {
    c.send_text(&json!({"event": "pusher:ping", "data": {}}).to_string());
    let msg = c.recv_json();
    assert_eq!(msg["event"], "pusher:pong", "{msg}");
}

#[test]
fn watchlist_online_and_offline_once_across_nodes() {
    let redis = RedisServer::start(&[]);
    let nodes = nodes(&redis, 3, &[]);
    let mut a = signin(&nodes[0], json!({"id": "a", "watchlist": ["b"]}));
    let mut tabs = vec![signin(&nodes[1], json!({"id": "b"}))];
    assert_eq!(watch_event(&mut a), ("online".into(), json!(["b"])));
    tabs.push(signin(&nodes[2], json!({"id": "b"})));
    // Each node records its users in Redis after answering the sign-in. Until the third node's
    // record is there, closing b's first tab would rightly look like b going offline.
    let key = format!("ringcast:w:{APP_ID}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while redis_server::command(redis.port, &["HGET", &key, "b"]) != "$1\r\n2\r\n" {
        assert!(
            Instant::now() < deadline,
            "b's second node never recorded b"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A watcher on a node where b has no connection learns at once that b is online.
    let mut c = signin(&nodes[0], json!({"id": "c", "watchlist": ["b"]}));
    assert_eq!(watch_event(&mut c), ("online".into(), json!(["b"])));
    drop(tabs.remove(0));
    std::thread::sleep(Duration::from_millis(300));
    quiet(&mut a);
    drop(tabs);
    assert_eq!(watch_event(&mut a), ("offline".into(), json!(["b"])));
    assert_eq!(watch_event(&mut c), ("offline".into(), json!(["b"])));
    quiet(&mut a);
}

/// Reads until the server closes the connection; answers the close code.
fn closed(c: &mut RawClient) -> u16 {
    loop {
        if let Message::Close(frame) = c.recv() {
            return frame.map_or(0, |f| f.code);
        }
    }
}

#[test]
fn send_to_user_and_terminate_reach_every_node() {
    let redis = RedisServer::start(&[]);
    let nodes = nodes(&redis, 3, &[]);
    let mut tabs = [signed_in(&nodes[1], "u9"), signed_in(&nodes[2], "u9")];
    let mut other = signed_in(&nodes[2], "u8");

    let body = json!({"name": "hello", "channels": ["#server-to-user-u9"], "data": "{}"});
    let (status, _) = signed_call(
        &nodes[0],
        "POST",
        &format!("/apps/{APP_ID}/events"),
        &body.to_string(),
    );
    assert_eq!(status, 200);
    for tab in tabs.iter_mut() {
        let event = tab.recv_json();
        assert_eq!(
            (&event["event"], &event["channel"]),
            (&json!("hello"), &json!("#server-to-user-u9"))
        );
    }

    let path = format!("/apps/{APP_ID}/users/u9/terminate_connections");
    assert_eq!(signed_call(&nodes[0], "POST", &path, "{}").0, 200);
    for tab in tabs.iter_mut() {
        assert_eq!(closed(tab), 4009, "terminated with Pusher's code");
    }
    other.send_text(&json!({"event": "pusher:ping", "data": {}}).to_string());
    assert_eq!(
        other.recv_json()["event"],
        "pusher:pong",
        "another user stays"
    );
}
