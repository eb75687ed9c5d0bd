//! Pusher channel webhooks against the real binary, with connections on every worker: a local
//! receiver checks every request with the Python `pusher` SDK's `validate_webhook`, and the
//! events are counted exactly: one channel_occupied and one channel_vacated per cluster-wide
//! transition and member_added / member_removed once per user, never one per core;
//! channel_vacated / member_removed are held back 3 s and dropped with a join that undoes them;
//! a receiver's channel filter keeps the other channels' events away from it; a client event is
//! reported once, by the sender's core, with its socket and user; a cache miss is reported by
//! the channel's owner.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{free_port, run_client, spawn_client, Server};
use serde_json::{json, Value};

/// Event counts by (name, channel, user_id).
type Counts = BTreeMap<(String, String, String), usize>;

fn counts(events: &[Value]) -> Counts {
    let mut out = Counts::new();
    for e in events {
        let field = |k: &str| e[k].as_str().unwrap_or("").to_owned();
        *out.entry((field("name"), field("channel"), field("user_id")))
            .or_default() += 1;
    }
    out
}

fn expect(entries: &[(&str, &str, &str, usize)]) -> Counts {
    entries
        .iter()
        .map(|(n, c, u, k)| ((n.to_string(), c.to_string(), u.to_string()), *k))
        .collect()
}

#[test]
fn each_channel_webhook_event_is_reported_once_across_workers() {
    let port = free_port();
    let hooks = json!([
        {"url": format!("http://127.0.0.1:{port}/all"),
         "event_types": ["channel_occupied", "channel_vacated", "member_added", "member_removed"]},
        {"url": format!("http://127.0.0.1:{port}/presence"),
         "event_types": ["channel_occupied", "member_added"],
         "filter": {"channel_name_starts_with": "presence-"}},
        {"url": format!("http://127.0.0.1:{port}/client"), "event_types": ["client_event"]},
        {"url": format!("http://127.0.0.1:{port}/cache"), "event_types": ["cache_miss"]},
    ])
    .to_string();
    let workers = std::env::var("RINGCAST_WORKERS").unwrap_or_else(|_| "2".into());
    let server = Server::start(&[
        ("RINGCAST_WORKERS", workers.as_str()),
        ("RINGCAST_WEBHOOKS_ALLOWED_SUBNETS", "127.0.0.0/8"),
        ("REVERB_APP_WEBHOOKS", hooks.as_str()),
    ]);
    let port_s = port.to_string();
    let mut receiver = spawn_client(
        "pusher_webhook_receiver.py",
        &[&port_s, "/all=14", "/presence=4", "/client=1", "/cache=1"],
        &server,
    );
    receiver.wait_for_line("listening", Duration::from_secs(10));
    let id = format!("{port}");
    let clients = run_client("pusher_webhook_clients.js", &[&id], &server);
    clients.assert_ok();
    let sender = clients
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("client event sent by "))
        .expect("the sender's socket id")
        .to_owned();
    let out = receiver.finish();
    assert!(out.success(), "{out}");

    let mut by_path: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut largest_batch = 0;
    for line in out.stdout.lines() {
        let Some(record) = line.strip_prefix("hook ") else {
            continue;
        };
        let record: Value = serde_json::from_str(record).unwrap();
        assert_eq!(record["valid"], true, "pusher SDK refused {record}\n{out}");
        let events = record["events"].as_array().unwrap();
        largest_batch = largest_batch.max(events.len());
        let path = record["path"].as_str().unwrap().to_owned();
        by_path
            .entry(path)
            .or_default()
            .extend(events.iter().cloned());
    }
    let (p, o) = (format!("presence-hooks-{id}"), format!("hooks-{id}"));
    let cache = format!("cache-hooks-{id}");
    assert_eq!(
        counts(&by_path["/all"]),
        expect(&[
            ("channel_occupied", &cache, "", 1),
            ("channel_occupied", &o, "", 2),
            ("channel_occupied", &p, "", 1),
            ("channel_vacated", &cache, "", 1),
            ("channel_vacated", &o, "", 2),
            ("channel_vacated", &p, "", 1),
            ("member_added", &p, "u1", 1),
            ("member_added", &p, "u2", 1),
            ("member_added", &p, "u3", 1),
            ("member_removed", &p, "u1", 1),
            ("member_removed", &p, "u2", 1),
            ("member_removed", &p, "u3", 1),
        ]),
        "the presence channel's second round came within 3 s of its leaves and undid them\n{out}"
    );
    assert_eq!(
        counts(&by_path["/presence"]),
        expect(&[
            ("channel_occupied", &p, "", 1),
            ("member_added", &p, "u1", 1),
            ("member_added", &p, "u2", 1),
            ("member_added", &p, "u3", 1),
        ]),
        "the filter and event_types of /presence\n{out}"
    );
    assert_eq!(
        by_path["/client"],
        [
            json!({"name": "client_event", "channel": p, "event": "client-hi",
                "data": "{\"n\":1}", "socket_id": sender, "user_id": "u2"})
        ],
        "{out}"
    );
    assert_eq!(
        by_path["/cache"],
        [json!({"name": "cache_miss", "channel": cache})],
        "{out}"
    );
    // A join's channel_occupied and member_added fall in one 50 ms window: one request.
    assert!(largest_batch >= 2, "no request carried a batch\n{out}");
}
