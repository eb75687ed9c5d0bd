//! The REST API against the real binary: signing, limits, errors and delivery across cores.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{http_get, http_post, Server};
use serde_json::Value;

#[path = "support/raw_client.rs"]
mod raw_client;
use raw_client::Subscriber;

const KEY: &str = "test-key";
const SECRET: &str = "test-secret";
const APP: &str = "424242";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// POSTs `body` to `/apps/424242/{endpoint}`, signed as the Pusher SDKs sign.
fn signed_post(server: &Server, endpoint: &str, body: &str, timestamp: u64) -> (u16, String) {
    let path = format!("/apps/{APP}/{endpoint}");
    let query = ringcast::proto::api::sign_request(
        "POST",
        &path,
        &[],
        body.as_bytes(),
        KEY,
        SECRET,
        timestamp,
    );
    http_post(server.port, &format!("{path}?{query}"), body)
}

#[test]
fn health_endpoints_answer() {
    let server = Server::start(&[]);
    let (status, _) = http_get(server.port, "/up");
    assert_eq!(status, 200);
    let (status, body) = http_get(server.port, "/api/v1/websocket/health");
    assert_eq!(status, 200);
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["connections"], 0);
    let _sub = Subscriber::connect(server.port, KEY, &["news"]);
    let (_, body) = http_get(server.port, "/api/v1/websocket/health");
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["connections"], 1);
}

#[test]
fn signed_event_reaches_subscribers_and_respects_socket_id() {
    let server = Server::start(&[]);
    let mut a = Subscriber::connect(server.port, KEY, &["news"]);
    let mut b = Subscriber::connect(server.port, KEY, &["news"]);
    let body = serde_json::json!({
        "name": "headline", "channels": ["news"], "data": "{\"n\":1}", "socket_id": a.socket_id
    })
    .to_string();
    let (status, resp) = signed_post(&server, "events", &body, now());
    assert_eq!(status, 200, "{resp}");
    let got = b.next_event();
    assert_eq!(got["event"], "headline");
    assert_eq!(got["channel"], "news");
    assert_eq!(got["data"], "{\"n\":1}");
    // `a` was excluded: the next thing it sees is the following event.
    let body = r#"{"name":"second","channel":"news","data":"x"}"#;
    assert_eq!(signed_post(&server, "events", body, now()).0, 200);
    assert_eq!(a.next_event()["event"], "second");
    assert_eq!(b.next_event()["event"], "second");
}

#[test]
fn batch_events_are_delivered_in_order() {
    let server = Server::start(&[]);
    let mut s = Subscriber::connect(server.port, KEY, &["a", "b"]);
    let body = r#"{"batch":[{"channel":"a","name":"one","data":"1"},{"channel":"b","name":"two","data":"2"}]}"#;
    let (status, resp) = signed_post(&server, "batch_events", body, now());
    assert_eq!(status, 200, "{resp}");
    assert_eq!(s.next_event()["event"], "one");
    assert_eq!(s.next_event()["event"], "two");
}

#[test]
fn bad_requests_get_pusher_statuses_with_reasons() {
    let server = Server::start(&[]);
    let body = r#"{"name":"e","channel":"c","data":"x"}"#;
    // Unsigned.
    let (status, resp) = http_post(server.port, &format!("/apps/{APP}/events"), body);
    assert_eq!(status, 401, "{resp}");
    // Timestamp too old.
    let (status, resp) = signed_post(&server, "events", body, now() - 700);
    assert_eq!(status, 401, "{resp}");
    // Tampered body.
    let path = format!("/apps/{APP}/events");
    let query =
        ringcast::proto::api::sign_request("POST", &path, &[], body.as_bytes(), KEY, SECRET, now());
    let (status, _) = http_post(
        server.port,
        &format!("{path}?{query}"),
        &body.replace('x', "y"),
    );
    assert_eq!(status, 401);
    // Invalid JSON.
    let (status, resp) = signed_post(&server, "events", "{nope", now());
    assert_eq!(status, 400, "{resp}");
    assert!(resp.contains("error"), "{resp}");
    // More than 100 channels.
    let channels: Vec<String> = (0..101).map(|i| format!("c{i}")).collect();
    let body = serde_json::json!({"name":"e","channels":channels,"data":"x"}).to_string();
    let (status, resp) = signed_post(&server, "events", &body, now());
    assert_eq!(status, 400, "{resp}");
    // Invalid channel name and socket id.
    let body = r#"{"name":"e","channel":"bad name!","data":"x"}"#;
    assert_eq!(signed_post(&server, "events", body, now()).0, 400);
    let body = r#"{"name":"e","channel":"c","data":"x","socket_id":"abc"}"#;
    assert_eq!(signed_post(&server, "events", body, now()).0, 400);
    // Data over the app's message size.
    let body = serde_json::json!({"name":"e","channel":"c","data":"x".repeat(10_001)}).to_string();
    let (status, resp) = signed_post(&server, "events", &body, now());
    assert_eq!(status, 413, "{resp}");
    // Unknown app, unknown route.
    assert_eq!(http_post(server.port, "/apps/999/events", "{}").0, 404);
    assert_eq!(http_get(server.port, "/nope").0, 404);
}

#[test]
fn events_published_on_either_core_reach_subscribers_on_both() {
    let server = Server::start(&[("RINGCAST_WORKERS", "2")]);
    let mut subs: Vec<Subscriber> = (0..16)
        .map(|_| Subscriber::connect(server.port, KEY, &["fan"]))
        .collect();
    let (_, health) = http_get(server.port, "/api/v1/websocket/health");
    let health: Value = serde_json::from_str(&health).unwrap();
    let shards: Vec<u64> = health["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(shards.len(), 2);
    assert!(
        shards.iter().all(|&n| n > 0),
        "clients on both cores: {shards:?}"
    );
    // Each POST lands on whichever core accepted it; several make both cores publish.
    for i in 0..10 {
        let body = format!(r#"{{"name":"e{i}","channel":"fan","data":"{i}"}}"#);
        assert_eq!(signed_post(&server, "events", &body, now()).0, 200);
    }
    for sub in &mut subs {
        for i in 0..10 {
            assert_eq!(sub.next_event()["event"], format!("e{i}"));
        }
    }
}
