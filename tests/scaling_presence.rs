//! Presence across ringcast nodes joined through a real redis-server: three nodes on one
//! machine, raw WebSocket clients on each, so every member event on the wire is counted, and
//! pusher-js clients (`tests/clients/presence_nodes.js`) for what an application sees.
//!
//! Covered: a user with connections on two nodes is one member everywhere (one
//! `member_added`, one `member_removed`, nothing when one of the two nodes lets go), every
//! joiner's `subscription_succeeded` lists the members of all nodes, and a node killed with
//! SIGKILL has its members removed by the survivors within 15 s, `member_removed` once, and
//! its subscriptions taken out of the channel counts; after a Redis restart that lost every
//! key, the nodes publish their members, counts and users again.

mod common;

#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/raw_client.rs"]
mod raw_client;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cluster::{join, join_channel, member_event, member_event_on, nodes, Member, ROOM};
use common::{run_client, signed_call, APP_ID, APP_KEY};
use raw_client::Subscriber;
use redis_server::RedisServer;

fn ev(kind: &str, user: &str) -> (String, String) {
    (kind.to_owned(), user.to_owned())
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_user_on_two_nodes_is_one_member_on_every_node() {
    let redis = RedisServer::start(&[]);
    let nodes = nodes(&redis, 3, &[]);
    let mut watcher = join(&nodes[2], "w");
    assert_eq!(watcher.listed, ids(&["w"]));

    let u1_a = join(&nodes[0], "u1");
    assert_eq!(
        u1_a.listed,
        ids(&["u1", "w"]),
        "the watcher on another node is listed"
    );
    assert_eq!(member_event(&mut watcher.client), ev("added", "u1"));

    // The same user on a second node: listed, but no second member_added anywhere.
    let u1_b = join(&nodes[1], "u1");
    assert_eq!(u1_b.listed, ids(&["u1", "w"]));
    let mut u2 = join(&nodes[1], "u2");
    assert_eq!(u2.listed, ids(&["u1", "u2", "w"]));
    assert_eq!(
        member_event(&mut watcher.client),
        ev("added", "u2"),
        "u1's second node sent nothing before u2 joined"
    );

    // u1 leaves one node: still a member, nothing sent; u2's leave is the next event.
    drop(u1_a);
    std::thread::sleep(Duration::from_millis(300));
    let mut u3 = join(&nodes[0], "u3");
    assert_eq!(
        u3.listed,
        ids(&["u1", "u2", "u3", "w"]),
        "u1 is still listed"
    );
    assert_eq!(member_event(&mut watcher.client), ev("added", "u3"));
    assert_eq!(member_event(&mut u2.client), ev("added", "u3"));
    drop(u1_b);
    assert_eq!(member_event(&mut watcher.client), ev("removed", "u1"));
    assert_eq!(member_event(&mut u3.client), ev("removed", "u1"));
    assert_eq!(member_event(&mut u2.client), ev("removed", "u1"));

    // A member event from another node is delivered, never kept as a cache channel's last
    // event: a later subscriber of a presence cache channel gets a cache miss.
    let cached = "presence-cache-room";
    let mut first = join_channel(&nodes[0], cached, "c1");
    let _second = join_channel(&nodes[1], cached, "c2");
    assert_eq!(
        member_event_on(&mut first.client, cached),
        ev("added", "c2")
    );
    let mut third = join_channel(&nodes[0], cached, "c3");
    assert_eq!(third.client.recv_json()["event"], "pusher:cache_miss");
}

#[test]
fn pusher_js_clients_see_one_member_for_a_user_on_two_nodes() {
    let redis = RedisServer::start(&[]);
    let nodes = nodes(&redis, 3, &[]);
    let ports: Vec<String> = nodes.iter().map(|n| n.port.to_string()).collect();
    run_client("presence_nodes.js", &[&ports.join(",")], &nodes[0]).assert_ok();
}

#[test]
fn a_killed_node_has_its_members_removed_once_within_15_s() {
    let redis = RedisServer::start(&[]);
    let mut nodes = nodes(&redis, 3, &[]);
    let mut watchers: Vec<Member> = vec![join(&nodes[0], "w0"), join(&nodes[1], "w1")];
    // "k" lives only on the doomed node; "both" also on a survivor, so stays a member.
    let _k = join(&nodes[2], "k");
    let _both_doomed = join(&nodes[2], "both");
    let _both_kept = join(&nodes[0], "both");
    let mut seen: Vec<Vec<(String, String)>> = Vec::new();
    for w in watchers.iter_mut() {
        let mut events = Vec::new();
        while events.len() < [3, 2][seen.len()] {
            events.push(member_event(&mut w.client));
        }
        seen.push(events);
    }
    assert_eq!(
        seen[0],
        vec![ev("added", "w1"), ev("added", "k"), ev("added", "both")]
    );
    assert_eq!(seen[1], vec![ev("added", "k"), ev("added", "both")]);

    let doomed = nodes.pop().unwrap();
    drop(doomed); // SIGKILL: no leave reaches Redis.
    let killed = Instant::now();
    for w in watchers.iter_mut() {
        w.client
            .stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        assert_eq!(member_event(&mut w.client), ev("removed", "k"));
        assert!(
            killed.elapsed() < Duration::from_secs(15),
            "removed after {:?}",
            killed.elapsed()
        );
    }
    // The dead node's subscriptions left the counts with it: w0, w1 and "both" on node 0.
    let path = format!("/apps/{APP_ID}/channels/{ROOM}?info=subscription_count,user_count");
    let (status, counts) = signed_call(&nodes[0], "GET", &path, "");
    assert_eq!(status, 200, "{counts}");
    assert_eq!(
        counts,
        serde_json::json!({"occupied": true, "subscription_count": 3, "user_count": 3})
    );
    // Once: the next member event each watcher sees is a fresh join, not a second removal.
    let _late = join(&nodes[1], "late");
    let mut next = BTreeMap::new();
    for (i, w) in watchers.iter_mut().enumerate() {
        next.insert(i, member_event(&mut w.client));
    }
    assert!(next.values().all(|e| *e == ev("added", "late")), "{next:?}");
}

#[test]
fn after_a_redis_restart_the_nodes_publish_their_share_again() {
    let mut redis = RedisServer::start(&[]);
    let nodes = nodes(&redis, 3, &[]);
    let mut w = join(&nodes[0], "w");
    let u = join(&nodes[1], "u");
    assert_eq!(member_event(&mut w.client), ev("added", "u"));
    let _news = Subscriber::connect(nodes[2].port, APP_KEY, &["news"]);
    redis.restart(); // without persistence: every key is gone

    // Asked on node 0, which has neither u nor the news subscriber: only the cluster knows.
    let room = format!("/apps/{APP_ID}/channels/{ROOM}?info=subscription_count,user_count");
    let news = format!("/apps/{APP_ID}/channels/news?info=subscription_count");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, r) = signed_call(&nodes[0], "GET", &room, "");
        let (_, n) = signed_call(&nodes[0], "GET", &news, "");
        if r["user_count"] == 2 && r["subscription_count"] == 2 && n["subscription_count"] == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "not restored: {r} {n}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let late = join(&nodes[2], "late");
    assert_eq!(late.listed, ids(&["late", "u", "w"]));
    assert_eq!(
        member_event(&mut w.client),
        ev("added", "late"),
        "no duplicate for u"
    );
    drop(u);
    assert_eq!(member_event(&mut w.client), ev("removed", "u"));
}
