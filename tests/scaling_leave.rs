//! A ringcast node that shuts down cleanly (SIGTERM) leaves the cluster at once: the other
//! nodes see its members removed (`member_removed` once) and its subscriptions gone from the
//! counts well before a sweep would notice the missing heartbeat (10 s TTL), and the
//! `member_removed` / `channel_vacated` webhooks of its leave, which a node holds back 3 s,
//! are recorded before it exits and delivered by the nodes that stay, once each. A delivery
//! it had claimed and not started is handed back, so another node sends it at its due time
//! rather than after the 60 s lease.

mod common;

#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/raw_client.rs"]
mod raw_client;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::time::{Duration, Instant};

use cluster::{hook_counts, hook_env, join, member_event, nodes, once_each, ROOM};
use common::{free_port, signed_call, spawn_client, spawn_client_env, Server, APP_ID, APP_KEY};
use raw_client::Subscriber;
use redis_server::RedisServer;
use serde_json::{json, Value};

fn ev(kind: &str, user: &str) -> (String, String) {
    (kind.to_owned(), user.to_owned())
}

/// Polls `path` on `node` until it answers `want`; panics after `within`.
fn answers(node: &Server, path: &str, want: &Value, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let (status, body) = signed_call(node, "GET", path, "");
        if status == 200 && body == *want {
            return;
        }
        assert!(Instant::now() < deadline, "{path} still answers {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until `node` counts the one subscriber of "news"; the path of that count.
fn news_counted(node: &Server) -> String {
    let news = format!("/apps/{APP_ID}/channels/news?info=subscription_count");
    let want = json!({"occupied": true, "subscription_count": 1});
    answers(node, &news, &want, Duration::from_secs(5));
    news
}

#[test]
fn a_node_stopped_with_sigterm_removes_its_share_at_once() {
    let redis = RedisServer::start(&[]);
    let nodes = nodes(&redis, 3, &[]);
    let mut watchers = [join(&nodes[0], "w0"), join(&nodes[1], "w1")];
    // "k" lives only on the stopping node; "both" also on a survivor, so stays a member.
    let _k = join(&nodes[2], "k");
    let _both_leaving = join(&nodes[2], "both");
    let _both_kept = join(&nodes[0], "both");
    let _news = Subscriber::connect(nodes[2].port, APP_KEY, &["news"]);
    assert_eq!(member_event(&mut watchers[0].client), ev("added", "w1"));
    for w in watchers.iter_mut() {
        assert_eq!(member_event(&mut w.client), ev("added", "k"));
        assert_eq!(member_event(&mut w.client), ev("added", "both"));
    }
    let news = news_counted(&nodes[0]);

    nodes[2].terminate();
    let stopped = Instant::now();
    // The clients on the stopping node never answer its close, so their connections end
    // only after the 2 s close grace, and a sweep needs the heartbeat key to expire (10 s):
    // within 1.5 s only the node's leave can have removed them.
    for w in watchers.iter_mut() {
        assert_eq!(member_event(&mut w.client), ev("removed", "k"));
        assert!(
            stopped.elapsed() < Duration::from_millis(1500),
            "removed after {:?}",
            stopped.elapsed()
        );
    }
    answers(
        &nodes[0],
        &news,
        &json!({"occupied": false, "subscription_count": 0}),
        Duration::from_secs(1),
    );
    let room = format!("/apps/{APP_ID}/channels/{ROOM}?info=subscription_count,user_count");
    answers(
        &nodes[1],
        &room,
        &json!({"occupied": true, "subscription_count": 3, "user_count": 3}),
        Duration::from_secs(1),
    );
    // Once: the next member event each watcher sees is a fresh join, not a second removal
    // (nor "both", still on node 0). Past the sweep period, so a sweep would have shown too.
    std::thread::sleep(Duration::from_secs(3));
    let _late = join(&nodes[1], "late");
    for w in watchers.iter_mut() {
        assert_eq!(member_event(&mut w.client), ev("added", "late"));
    }
}

#[test]
fn the_webhooks_of_a_clean_leave_are_delivered_by_the_nodes_that_stay() {
    let port = free_port();
    let hooks = json!([{
        "url": format!("http://127.0.0.1:{port}/leave"),
        "event_types": ["member_removed", "channel_vacated"],
    }])
    .to_string();
    let redis = RedisServer::start(&[]);
    let env = hook_env(&hooks);
    let nodes = nodes(&redis, 3, &env);
    // "k" and the only subscriber of "news" live on the stopping node alone.
    let _k = join(&nodes[2], "k");
    let _news = Subscriber::connect(nodes[2].port, APP_KEY, &["news"]);
    news_counted(&nodes[0]);
    let mut receiver = spawn_client(
        "pusher_webhook_receiver.py",
        &[&port.to_string(), "/leave=3"],
        &nodes[0],
    );
    receiver.wait_for_line("listening", Duration::from_secs(10));

    nodes[2].terminate();
    let out = receiver.finish();
    assert!(out.success(), "{out}");
    let want = once_each(&[
        ("member_removed", ROOM, "k"),
        ("channel_vacated", ROOM, ""),
        ("channel_vacated", "news", ""),
    ]);
    assert_eq!(hook_counts(&out.stdout), want, "{out}");
}

#[test]
fn a_clean_leave_hands_back_the_deliveries_it_claimed() {
    let port = free_port();
    // One retry, 5 s after the failed first request: the node claims it up to 2 s ahead.
    let hooks = json!([{
        "url": format!("http://127.0.0.1:{port}/hook"),
        "event_types": ["channel_occupied"],
        "retry_delays": [5],
    }])
    .to_string();
    let redis = RedisServer::start(&[]);
    let env = hook_env(&hooks);
    let mut leaving = nodes(&redis, 1, &env).pop().unwrap();
    let mut receiver = spawn_client_env(
        "pusher_webhook_receiver.py",
        &[&port.to_string(), "/hook=2"],
        &leaving,
        &[("STATUSES", "500"), ("CLIENT_TIMEOUT_MS", "20000")],
    );
    receiver.wait_for_line("listening", Duration::from_secs(10));
    // The subscriber stays until channel_occupied is received (a subscription that ends
    // within the same moment may never count as an occupancy across the cluster), then leaves,
    // so the node stops without waiting for a client.
    let subscriber = Subscriber::connect(leaving.port, APP_KEY, &["news"]);
    receiver.wait_for_line("hook", Duration::from_secs(10));
    drop(subscriber);
    let failed = Instant::now();
    // By 4.2 s the retry (due at 5 s) is claimed: the store is read every second, 2 s ahead.
    std::thread::sleep(Duration::from_millis(4200));
    leaving.terminate();
    let deadline = Instant::now() + Duration::from_secs(5);
    while leaving.exited().is_none() {
        assert!(Instant::now() < deadline, "the node did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    // A node started afterwards can only send the retry before the lease ends if it was
    // handed back.
    let _stays = nodes(&redis, 1, &env);
    let out = receiver.finish();
    assert!(out.success(), "{out}");
    let statuses: Vec<Value> = common::hook_records(&out.stdout)
        .iter()
        .map(|r| r["status"].clone())
        .collect();
    assert_eq!(statuses, [json!(500), json!(200)], "{out}");
    assert!(
        failed.elapsed() < Duration::from_secs(15),
        "retried {:?} after the failure",
        failed.elapsed()
    );
}
