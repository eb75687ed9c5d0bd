//! Filtered collection subscriptions against the real binary with two workers: pusher-js
//! clients on both cores register filters through `POST /api/realtime/subscribe` with the JWT
//! they connected with, and a stream of record changes checks who receives what
//! (tests/clients/collections.js). The REST side's refusals are checked here directly.

mod common;

use common::{http_post, run_client, signed_path, Server};

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

/// The server, with the collections app as the one clients and signed requests use.
fn server() -> Server {
    let mut server = Server::start_with(&[], &[("RINGCAST_WORKERS", "2")], Some(VELO_APP));
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
