//! Optional per-app connection authentication against the real binary: HS256 JWTs verified
//! locally, Sanctum tokens checked by a real HTTP receiver (tests/clients/sanctum_stub.py),
//! refusals answered with 401 (or 503) before any upgrade, and the authenticated user binding
//! presence membership and `pusher:signin`. Each case keeps a good neighbour connected and
//! checks it still receives events.

mod common;
#[path = "support/raw_client.rs"]
mod raw_client;
#[path = "support/sanctum_stub.rs"]
mod sanctum_stub;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{http_post, signed_path, Server, APP_KEY, APP_SECRET};
use hmac::{Hmac, Mac};
use raw_client::RawClient;
use ringcast::proto::auth::jwt::{b64url, sign_hs256};
use sanctum_stub::SanctumStub;
use serde_json::{json, Value};

/// A second app, without connection authentication.
const OPEN_APP: &str = r#"
[[apps]]
id = "open"
key = "open-key"
secret = "open-secret"
"#;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn jwt(sub: Value, exp_in: i64) -> String {
    sign_hs256(
        &json!({"sub": sub, "exp": now() + exp_in}),
        APP_SECRET.as_bytes(),
    )
}

fn hmac_hex(data: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn ws_path(token: &str) -> String {
    format!(
        "/app/{APP_KEY}?protocol=7&token={}",
        token.replace('|', "%7C")
    )
}

/// Sends an upgrade for `path` with extra header lines; returns (status line, headers, body).
fn upgrade(port: u16, path: &str, extra: &str) -> (String, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    let (mut headers, mut length) = (String::new(), 0);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
        headers.push_str(&line);
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).unwrap();
    (
        status.trim_end().to_owned(),
        headers,
        String::from_utf8(body).unwrap(),
    )
}

/// Asserts an upgrade is refused with `status` and `reason`, before any 101.
fn assert_refused(port: u16, path: &str, extra: &str, status: u16, reason: &str) -> Value {
    let (line, headers, body) = upgrade(port, path, extra);
    assert!(
        line.starts_with(&format!("HTTP/1.1 {status} ")),
        "{line}\n{headers}{body}"
    );
    let json: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{body}"));
    assert_eq!(json["reason"], reason, "{body}");
    assert!(
        !json["error"].as_str().unwrap_or_default().is_empty(),
        "{body}"
    );
    json
}

/// A connected client of the auth app subscribed to `good`, that must keep receiving events.
struct Neighbour(RawClient);

impl Neighbour {
    fn new(server: &Server, token: &str) -> Neighbour {
        let mut client = RawClient::connect(server, &ws_path(token));
        client.established();
        client
            .send_text(&json!({"event":"pusher:subscribe","data":{"channel":"good"}}).to_string());
        assert_eq!(
            client.recv_json()["event"],
            "pusher_internal:subscription_succeeded"
        );
        Neighbour(client)
    }

    fn assert_healthy(&mut self, server: &Server) {
        let body = r#"{"name":"still-here","channel":"good","data":"1"}"#;
        let path = signed_path(server, "POST", "/apps/424242/events", &[], body);
        let (status, resp) = http_post(server.port, &path, body);
        assert_eq!(status, 200, "{resp}");
        loop {
            let msg = self.0.recv_json();
            if msg["event"] == "still-here" {
                return;
            }
        }
    }
}

fn jwt_server() -> Server {
    Server::start_with(
        &[],
        &[("REVERB_APP_CONNECTION_AUTH", "jwt")],
        Some(OPEN_APP),
    )
}

#[test]
fn a_valid_jwt_connects_by_query_or_bearer_header() {
    let server = jwt_server();
    let mut neighbour = Neighbour::new(&server, &jwt(json!("u1"), 60));
    let (line, _, _) = upgrade(
        server.port,
        &format!("/app/{APP_KEY}?protocol=7"),
        &format!("Authorization: Bearer {}\r\n", jwt(json!(42), 60)),
    );
    assert!(line.starts_with("HTTP/1.1 101"), "{line}");
    // The other app asks for no token.
    let mut open = RawClient::connect(&server, "/app/open-key?protocol=7");
    open.established();
    neighbour.assert_healthy(&server);
}

#[test]
fn missing_expired_tampered_and_alg_none_tokens_get_401_before_the_upgrade() {
    let server = jwt_server();
    let mut neighbour = Neighbour::new(&server, &jwt(json!("u1"), 60));
    let port = server.port;
    let body = assert_refused(
        port,
        &format!("/app/{APP_KEY}?protocol=7"),
        "",
        401,
        "missing_token",
    );
    assert!(body["error"].as_str().unwrap().contains("token"), "{body}");
    assert_refused(port, &ws_path(&jwt(json!("u1"), -60)), "", 401, "expired");

    let good = jwt(json!("u1"), 60);
    let parts: Vec<&str> = good.split('.').collect();
    let forged = b64url(
        json!({"sub": "admin", "exp": now() + 60})
            .to_string()
            .as_bytes(),
    );
    let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
    assert_refused(port, &ws_path(&tampered), "", 401, "invalid_signature");
    let other_secret = sign_hs256(&json!({"sub": "u1", "exp": now() + 60}), b"not-the-secret");
    assert_refused(port, &ws_path(&other_secret), "", 401, "invalid_signature");

    let none = b64url(br#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("{none}.{}.", parts[1]);
    assert_refused(port, &ws_path(&alg_none), "", 401, "unsupported_algorithm");
    let via_header = format!("Authorization: Bearer {alg_none}\r\n");
    let path = format!("/app/{APP_KEY}?protocol=7");
    let (line, headers, _) = upgrade(port, &path, &via_header);
    assert!(line.starts_with("HTTP/1.1 401"), "{line}");
    assert!(headers.contains("WWW-Authenticate: Bearer"), "{headers}");
    assert_refused(port, &ws_path("not-a-jwt"), "", 401, "malformed_token");

    neighbour.assert_healthy(&server);
}

#[test]
fn the_jwt_user_binds_presence_membership() {
    let server = jwt_server();
    let mut neighbour = Neighbour::new(&server, &jwt(json!("u0"), 60));
    let mut client = RawClient::connect(&server, &ws_path(&jwt(json!("u1"), 60)));
    let socket_id = client.established();
    let join = |client: &mut RawClient, user: &str| {
        let channel = "presence-room";
        let data = json!({"user_id": user, "user_info": {"name": user}}).to_string();
        let auth = format!(
            "{APP_KEY}:{}",
            hmac_hex(&format!("{socket_id}:{channel}:{data}"))
        );
        client.send_text(
            &json!({"event":"pusher:subscribe",
                    "data":{"channel":channel,"auth":auth,"channel_data":data}})
            .to_string(),
        );
        client.recv_json()
    };
    let refused = join(&mut client, "u2");
    assert_eq!(refused["event"], "pusher:subscription_error", "{refused}");
    assert_eq!(refused["data"]["status"], 403, "{refused}");
    let error = refused["data"]["error"].as_str().unwrap();
    assert!(error.contains("'u2'") && error.contains("'u1'"), "{error}");
    let ok = join(&mut client, "u1");
    assert_eq!(
        ok["event"], "pusher_internal:subscription_succeeded",
        "{ok}"
    );
    neighbour.assert_healthy(&server);
}

#[test]
fn the_jwt_user_binds_signin() {
    let server = jwt_server();
    let mut neighbour = Neighbour::new(&server, &jwt(json!("u0"), 60));
    let mut client = RawClient::connect(&server, &ws_path(&jwt(json!(7), 60)));
    let socket_id = client.established();
    let signin = |client: &mut RawClient, user_data: &str| {
        let auth = format!(
            "{APP_KEY}:{}",
            hmac_hex(&format!("{socket_id}::user::{user_data}"))
        );
        client.send_text(
            &json!({"event":"pusher:signin","data":{"auth":auth,"user_data":user_data}})
                .to_string(),
        );
        client.recv_json()
    };
    let refused = signin(&mut client, r#"{"id":"8"}"#);
    assert_eq!(refused["event"], "pusher:error", "{refused}");
    assert_eq!(refused["data"]["code"], 4009, "{refused}");
    let message = refused["data"]["message"].as_str().unwrap();
    assert!(
        message.contains("'8'") && message.contains("'7'"),
        "{message}"
    );
    // A numeric id in user_data matches the numeric sub.
    let ok = signin(&mut client, r#"{"id":7}"#);
    assert_eq!(ok["event"], "pusher:signin_success", "{ok}");
    neighbour.assert_healthy(&server);
}

fn sanctum_server(stub: &SanctumStub, mode: &str) -> Server {
    let url = stub.url();
    Server::start_with(
        &[],
        &[
            // One shard: the verdict cache is per shard, and the test counts requests.
            ("RINGCAST_WORKERS", "1"),
            ("REVERB_APP_CONNECTION_AUTH", mode),
            ("REVERB_APP_SANCTUM_URL", url.as_str()),
        ],
        Some(OPEN_APP),
    )
}

#[test]
fn sanctum_tokens_are_checked_by_the_app_and_cached() {
    let stub = SanctumStub::start();
    let server = sanctum_server(&stub, "sanctum");
    let mut neighbour = Neighbour::new(&server, "1|good");
    assert_eq!(stub.count(), 1);
    // Same token again, by header this time: served from the cache.
    let (line, _, _) = upgrade(
        server.port,
        &format!("/app/{APP_KEY}?protocol=7"),
        "Authorization: Bearer 1|good\r\n",
    );
    assert!(line.starts_with("HTTP/1.1 101"), "{line}");
    assert_eq!(
        stub.count(),
        1,
        "a cached valid token makes no second request"
    );

    assert_refused(server.port, &ws_path("1|wrong"), "", 401, "rejected");
    assert_eq!(stub.count(), 2);
    assert_refused(server.port, &ws_path("1|wrong"), "", 401, "rejected");
    assert_eq!(stub.count(), 2, "a rejection is cached too");
    assert_refused(
        server.port,
        &format!("/app/{APP_KEY}?protocol=7"),
        "",
        401,
        "missing_token",
    );

    // The user id binds presence: the app said token 1|good is user 7.
    let mut client = RawClient::connect(&server, &ws_path("1|good"));
    let socket_id = client.established();
    let data = json!({"user_id": 8}).to_string();
    let auth = format!(
        "{APP_KEY}:{}",
        hmac_hex(&format!("{socket_id}:presence-x:{data}"))
    );
    client.send_text(
        &json!({"event":"pusher:subscribe",
                "data":{"channel":"presence-x","auth":auth,"channel_data":data}})
        .to_string(),
    );
    let refused = client.recv_json();
    assert_eq!(refused["event"], "pusher:subscription_error", "{refused}");
    neighbour.assert_healthy(&server);
}

#[test]
fn sanctum_nested_ids_failures_and_jwt_or_sanctum() {
    let stub = SanctumStub::start();
    let server = sanctum_server(&stub, "jwt_or_sanctum");
    let mut neighbour = Neighbour::new(&server, &jwt(json!("u1"), 60));
    assert_eq!(stub.count(), 0, "a JWT never reaches the app");
    let mut nested = RawClient::connect(&server, &ws_path("2|nested"));
    nested.established();

    let started = Instant::now();
    let body = assert_refused(
        server.port,
        &ws_path("3|slow"),
        "",
        503,
        "introspection_unavailable",
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        body["error"].as_str().unwrap().contains("2000 ms"),
        "{body}"
    );
    assert_refused(
        server.port,
        &ws_path("4|broken"),
        "",
        503,
        "introspection_unavailable",
    );
    let before = stub.count();
    assert_refused(
        server.port,
        &ws_path("4|broken"),
        "",
        503,
        "introspection_unavailable",
    );
    assert_eq!(stub.count(), before + 1, "failures are not cached");
    assert!(
        server.stderr().contains("Sanctum introspection failed"),
        "{}",
        server.stderr()
    );
    neighbour.assert_healthy(&server);
}
