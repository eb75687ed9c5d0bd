//! Filtered collection subscriptions against the real binary with two workers: pusher-js
//! clients on both cores register filters through `POST /api/realtime/subscribe` with the JWT
//! they connected with, and a stream of record changes checks who receives what
//! (tests/clients/collections.js). The REST side's refusals are checked here directly.

mod common;
#[path = "support/raw_client.rs"]
mod raw_client;
#[path = "support/sanctum_stub.rs"]
mod sanctum_stub;

use common::{http_post, http_request, run_client, signed_path, Server};
use raw_client::RawClient;
use sanctum_stub::SanctumStub;
use serde_json::{json, Value};

/// The collections app: JWT connection auth, a public collection with client filters, a
/// collection behind an auth rule.
const VELO_APP: &str = r#"
[[apps]]
id = "velo"
key = "velo-key"
secret = "velo-secret"
connection_auth = "jwt"
collections = [
  { name = "posts", public = true },
  { name = "orders", list_rule = "total > 0" },
  { name = "notes", list_rule = "owner = @request.auth.id" },
]
"#;

/// The collections app with Sanctum tokens and no verdict cache, so the socket's core never
/// holds a verdict when the registration arrives.
fn sanctum_app(url: &str) -> String {
    format!(
        r#"
[[apps]]
id = "velo"
key = "velo-key"
secret = "velo-secret"
connection_auth = "sanctum"
sanctum_url = "{url}"
sanctum_cache_ttl = 0
collections = [{{ name = "notes", list_rule = "owner = @request.auth.id" }}]
"#
    )
}

/// The server, with the collections app as the one clients and signed requests use.
fn server() -> Server {
    server_with(VELO_APP)
}

fn server_with(toml: &str) -> Server {
    let mut server = Server::start_with(&[], &[("RINGCAST_WORKERS", "2")], Some(toml));
    server.app_id = "velo".into();
    server.app_key = "velo-key".into();
    server.app_secret = "velo-secret".into();
    server
}

#[test]
fn pusher_js_subscribers_on_both_cores_get_exactly_their_records() {
    let server = server();
    run_client("collections.js", &[], &server).assert_ok();
}

#[test]
fn unauthenticated_subscribes_unknown_sockets_and_bad_records_are_refused() {
    let server = server();
    let body = r#"{"collection":"posts","socket_id":"1.2"}"#;
    let (status, resp) = http_post(server.port, "/api/realtime/subscribe", body);
    assert_eq!(status, 401, "{resp}");
    assert!(resp.contains("Bearer"), "{resp}");
    let signed = signed_path(&server, "POST", "/api/realtime/subscribe", &[], body);
    let (status, resp) = http_post(server.port, &signed, body);
    assert_eq!(
        status, 404,
        "a signed request for a socket that is not open: {resp}"
    );
    assert!(resp.contains("'1.2'"), "{resp}");

    let velo = |body: &str| {
        let path = signed_path(&server, "POST", "/apps/velo/records", &[], body);
        http_post(server.port, &path, body)
    };
    let (status, resp) = velo(r#"{"collection":"posts","action":"made","record":{"id":1}}"#);
    assert_eq!(status, 400, "{resp}");
    assert!(resp.contains("'made'"), "{resp}");
    let (status, resp) = velo(r#"{"collection":"nope","action":"created","record":{"id":1}}"#);
    assert_eq!(status, 404, "{resp}");
    let (status, resp) = velo(r#"{"collection":"posts","action":"created","record":{"id":1}}"#);
    assert_eq!(status, 200, "{resp}");
}

fn register(server: &Server, token: &str, socket_id: &str) -> (u16, String) {
    let body = json!({"collection": "notes", "socket_id": socket_id}).to_string();
    let bearer = format!("Bearer {token}");
    let headers = [("Authorization", bearer.as_str())];
    let path = "/api/realtime/subscribe";
    http_request(server.port, "POST", path, &headers, body.as_bytes())
}

#[test]
fn a_sanctum_token_registers_its_socket_and_its_user_object_feeds_the_rule() {
    let stub = SanctumStub::start();
    let server = server_with(&sanctum_app(&stub.url()));
    let mut client = RawClient::connect(&server, "/app/velo-key?protocol=7&token=1%7Cgood");
    let socket_id = client.established();
    let subscribe =
        json!({"event": "pusher:subscribe", "data": {"channel": "velo.realtime.notes"}});

    client.send_text(&subscribe.to_string());
    let refused = client.recv_json();
    assert_eq!(refused["event"], "pusher:subscription_error", "{refused}");
    assert_eq!(refused["data"]["status"], 403, "{refused}");

    let (status, resp) = register(&server, "2|nested", &socket_id);
    assert_eq!(status, 401, "another user's token: {resp}");
    let (status, resp) = register(&server, "1|good", &socket_id);
    assert_eq!(status, 200, "{resp}");
    let answer: Value = serde_json::from_str(&resp).unwrap();
    assert_eq!(answer["channel_name"], "velo.realtime.notes");

    client.send_text(&subscribe.to_string());
    let joined = client.recv_json();
    assert_eq!(
        joined["event"], "pusher_internal:subscription_succeeded",
        "{joined}"
    );
    // The stub's user is {"id": 7}: the rule `owner = @request.auth.id` lets only 7's through.
    let body = json!({"records": [
        {"collection": "notes", "action": "created", "record": {"id": 1, "owner": 8}},
        {"collection": "notes", "action": "created", "record": {"id": 2, "owner": 7}},
    ]})
    .to_string();
    let path = signed_path(&server, "POST", "/apps/velo/records", &[], &body);
    let (status, resp) = http_post(server.port, &path, &body);
    assert_eq!(status, 200, "{resp}");
    let event = client.recv_json();
    assert_eq!(event["event"], "created", "{event}");
    let data: Value = serde_json::from_str(event["data"].as_str().unwrap()).unwrap();
    assert_eq!(
        data,
        json!({"action": "created", "record": {"id": 2, "owner": 7}})
    );
}

/// An app without connection authentication and `n` public collections `c0`, `c1`, …, so one
/// connection can register more filters than it may hold (one per collection).
fn many_collections_app(n: usize) -> String {
    let collections: Vec<String> = (0..n)
        .map(|i| format!("{{ name = \"c{i}\", public = true }}"))
        .collect();
    format!(
        "[[apps]]\nid = \"velo\"\nkey = \"velo-key\"\nsecret = \"velo-secret\"\ncollections = [{}]\n",
        collections.join(", ")
    )
}

#[test]
fn each_limit_of_a_registration_has_its_own_refusal() {
    use ringcast::proto::api::realtime::MAX_FILTERS_PER_CONNECTION as MAX;
    let server = server_with(&many_collections_app(MAX + 1));
    let mut client = RawClient::connect(&server, "/app/velo-key?protocol=7");
    let socket_id = client.established();
    let signed = |collection: &str, filter: &str| {
        let body =
            json!({"collection": collection, "socket_id": socket_id, "filter": filter}).to_string();
        let path = signed_path(&server, "POST", "/api/realtime/subscribe", &[], &body);
        http_post(server.port, &path, &body)
    };

    let long = format!("a = '{}'", "x".repeat(2500));
    let (status, resp) = signed("c0", &long);
    assert_eq!(status, 400, "{resp}");
    assert!(resp.contains("2500"), "the limit is named: {resp}");
    // 40 comparisons and 39 `||`: 79 nodes in 40 x 10 characters.
    let complex = vec!["a = 1"; 40].join(" || ");
    let (status, resp) = signed("c0", &complex);
    assert_eq!(status, 400, "{resp}");
    assert!(resp.contains("64"), "the limit is named: {resp}");
    let (status, resp) = signed("c0", &vec!["a = 1"; 32].join(" || "));
    assert_eq!(status, 200, "63 nodes pass: {resp}");

    for i in 1..MAX {
        let (status, resp) = signed(&format!("c{i}"), "a = 1");
        assert_eq!(status, 200, "filter {i}: {resp}");
    }
    let (status, resp) = signed(&format!("c{MAX}"), "a = 1");
    assert_eq!(status, 429, "filter {}: {resp}", MAX + 1);
    assert!(
        resp.contains(&format!("{MAX} filtered subscriptions")),
        "{resp}"
    );
    let (status, resp) = signed("c7", "a = 2");
    assert_eq!(status, 200, "replacing a filter is no new one: {resp}");
    // Leaving one collection's channel frees a place.
    let channel = "velo.realtime.c7";
    client
        .send_text(&json!({"event": "pusher:subscribe", "data": {"channel": channel}}).to_string());
    assert_eq!(
        client.recv_json()["event"],
        "pusher_internal:subscription_succeeded"
    );
    client.send_text(
        &json!({"event": "pusher:unsubscribe", "data": {"channel": channel}}).to_string(),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (status, resp) = signed(&format!("c{MAX}"), "a = 1");
        if status == 200 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status} {resp}");
    }
}
