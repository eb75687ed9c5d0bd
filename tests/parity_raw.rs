//! Presence, client events, cache channels and channel queries at the wire level, with two
//! workers so clients sit on both cores. (Real-client coverage of the same features is in
//! tests/parity.rs.)

mod common;
#[path = "support/raw_client.rs"]
mod raw_client;

use common::{http_get, http_post, signed_path, Server};
use raw_client::RawClient;
use serde_json::{json, Value};

const KEY: &str = "test-key";
const SECRET: &str = "test-secret";

fn connect(server: &Server) -> (RawClient, String) {
    let mut c = RawClient::connect(server, &format!("/app/{KEY}?protocol=7"));
    let id = c.established();
    (c, id)
}

fn join_presence(c: &mut RawClient, socket_id: &str, channel: &str, user: &str) -> Value {
    let data = json!({"user_id": user, "user_info": {"name": user}}).to_string();
    let auth = ringcast::proto::pusher::channel_auth(KEY, SECRET, socket_id, channel, Some(&data));
    c.send_text(
        &json!({"event":"pusher:subscribe","data":{"channel":channel,"auth":auth,"channel_data":data}})
            .to_string(),
    );
    c.recv_json()
}

fn subscribe_private(c: &mut RawClient, socket_id: &str, channel: &str) {
    let auth = ringcast::proto::pusher::channel_auth(KEY, SECRET, socket_id, channel, None);
    c.send_text(
        &json!({"event":"pusher:subscribe","data":{"channel":channel,"auth":auth}}).to_string(),
    );
    assert_eq!(
        c.recv_json()["event"],
        "pusher_internal:subscription_succeeded"
    );
}

fn data(msg: &Value) -> Value {
    serde_json::from_str(msg["data"].as_str().unwrap()).unwrap()
}

fn trigger(server: &Server, channel: &str, name: &str, payload: &str) {
    let body = json!({"name": name, "channel": channel, "data": payload}).to_string();
    let path = signed_path(server, "POST", "/apps/424242/events", &[], &body);
    assert_eq!(http_post(server.port, &path, &body).0, 200);
}

#[test]
fn presence_members_are_counted_once_per_user_across_cores() {
    let server = Server::start(&[("RINGCAST_WORKERS", "2")]);
    let ch = "presence-room";
    let mut clients: Vec<(RawClient, String)> = (0..6).map(|_| connect(&server)).collect();
    // u0 first: the member list holds only u0.
    let (c0, id0) = &mut clients[0];
    let ok = join_presence(c0, id0, ch, "u0");
    assert_eq!(
        ok["event"], "pusher_internal:subscription_succeeded",
        "{ok}"
    );
    assert_eq!(data(&ok)["presence"]["count"], 1);
    // u1 joins from five connections (spread over both cores): u0 hears member_added once.
    for (c, id) in clients.iter_mut().skip(1) {
        let ok = join_presence(c, id, ch, "u1");
        assert_eq!(data(&ok)["presence"]["count"], 2, "{ok}");
    }
    let added = clients[0].0.recv_json();
    assert_eq!(added["event"], "pusher_internal:member_added");
    assert_eq!(data(&added)["user_id"], "u1");
    assert_eq!(data(&added)["user_info"]["name"], "u1");
    // The owner's count is the same whichever core answers the REST query.
    for _ in 0..4 {
        let path = signed_path(
            &server,
            "GET",
            "/apps/424242/channels/presence-room",
            &[("info", "user_count,subscription_count")],
            "",
        );
        let (status, body) = http_get(server.port, &path);
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v,
            json!({"occupied": true, "user_count": 2, "subscription_count": 6})
        );
    }
    let path = signed_path(
        &server,
        "GET",
        "/apps/424242/channels/presence-room/users",
        &[],
        "",
    );
    let (_, body) = http_get(server.port, &path);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"users":[{"id":"u0"},{"id":"u1"}]})
    );
    // u1 leaves from four tabs: nothing; the fifth: member_removed.
    for (c, _) in clients.drain(2..) {
        drop(c);
    }
    let ping = json!({"event":"pusher:ping","data":{}}).to_string();
    clients[0].0.send_text(&ping);
    assert_eq!(
        clients[0].0.recv_json()["event"],
        "pusher:pong",
        "no member_removed yet"
    );
    drop(clients.remove(1));
    let removed = clients[0].0.recv_json();
    assert_eq!(removed["event"], "pusher_internal:member_removed");
    assert_eq!(data(&removed)["user_id"], "u1");
}

#[test]
fn presence_limit_and_bad_channel_data_are_refused_on_the_channel() {
    let server = Server::start(&[("REVERB_APP_MAX_PRESENCE_MEMBERS", "1")]);
    let (mut a, ida) = connect(&server);
    let (mut b, idb) = connect(&server);
    assert_eq!(
        join_presence(&mut a, &ida, "presence-x", "a")["event"],
        "pusher_internal:subscription_succeeded"
    );
    let refused = join_presence(&mut b, &idb, "presence-x", "b");
    assert_eq!(refused["event"], "pusher:subscription_error", "{refused}");
    assert_eq!(refused["channel"], "presence-x");
    let data = "{\"user_info\":{}}";
    let auth = ringcast::proto::pusher::channel_auth(KEY, SECRET, &idb, "presence-y", Some(data));
    b.send_text(&json!({"event":"pusher:subscribe","data":{"channel":"presence-y","auth":auth,"channel_data":data}}).to_string());
    assert_eq!(b.recv_json()["event"], "pusher:subscription_error");
}

#[test]
fn client_events_reach_other_members_only_and_are_rate_limited() {
    let server = Server::start(&[
        ("RINGCAST_WORKERS", "2"),
        ("REVERB_APP_MAX_CLIENT_EVENTS_PER_SECOND", "3"),
    ]);
    let mut clients: Vec<(RawClient, String)> = (0..4).map(|_| connect(&server)).collect();
    for (c, id) in &mut clients {
        subscribe_private(c, id, "private-chat");
    }
    let event =
        json!({"event":"client-typing","channel":"private-chat","data":{"who":"a"}}).to_string();
    clients[0].0.send_text(&event);
    for (c, _) in clients.iter_mut().skip(1) {
        let got = c.recv_json();
        assert_eq!(got["event"], "client-typing");
        assert_eq!(got["data"], json!({"who":"a"}));
    }
    // The sender never gets its own event; its next message is the answer to a ping.
    clients[0]
        .0
        .send_text(&json!({"event":"pusher:ping","data":{}}).to_string());
    assert_eq!(clients[0].0.recv_json()["event"], "pusher:pong");
    // Three more fit in the second; the fifth in the same second is refused with 4301.
    for _ in 0..3 {
        clients[0].0.send_text(&event);
    }
    let err = clients[0].0.recv_json();
    assert_eq!(err["event"], "pusher:error");
    assert_eq!(err["data"]["code"], 4301);
    // Public channels refuse client events.
    clients[1]
        .0
        .send_text(&json!({"event":"pusher:subscribe","data":{"channel":"open"}}).to_string());
    clients[1]
        .0
        .send_text(&json!({"event":"client-x","channel":"open","data":{}}).to_string());
    loop {
        let msg = clients[1].0.recv_json();
        match msg["event"].as_str().unwrap_or_default() {
            "pusher:error" => break,
            "client-typing" | "pusher_internal:subscription_succeeded" => {}
            other => panic!("unexpected {other}: {msg}"),
        }
    }
}

#[test]
fn cache_channel_replays_the_last_event_or_reports_a_miss() {
    let server = Server::start(&[("RINGCAST_WORKERS", "2")]);
    trigger(&server, "cache-prices", "tick", "1");
    trigger(&server, "cache-prices", "tick", "2");
    for _ in 0..4 {
        let (mut c, _) = connect(&server);
        c.send_text(
            &json!({"event":"pusher:subscribe","data":{"channel":"cache-prices"}}).to_string(),
        );
        assert_eq!(
            c.recv_json()["event"],
            "pusher_internal:subscription_succeeded"
        );
        let cached = c.recv_json();
        assert_eq!(cached["event"], "tick");
        assert_eq!(cached["data"], "2");
    }
    let (mut c, _) = connect(&server);
    c.send_text(&json!({"event":"pusher:subscribe","data":{"channel":"cache-empty"}}).to_string());
    assert_eq!(
        c.recv_json()["event"],
        "pusher_internal:subscription_succeeded"
    );
    let miss = c.recv_json();
    assert_eq!(miss["event"], "pusher:cache_miss");
    assert_eq!(miss["channel"], "cache-empty");
}

#[test]
fn channel_list_counts_subscriptions_on_every_core() {
    let server = Server::start(&[("RINGCAST_WORKERS", "2")]);
    let mut held = Vec::new();
    for i in 0..8 {
        let (mut c, _) = connect(&server);
        let ch = if i % 2 == 0 { "news" } else { "sport" };
        c.send_text(&json!({"event":"pusher:subscribe","data":{"channel":ch}}).to_string());
        assert_eq!(
            c.recv_json()["event"],
            "pusher_internal:subscription_succeeded"
        );
        held.push(c);
    }
    let path = signed_path(
        &server,
        "GET",
        "/apps/424242/channels",
        &[("info", "subscription_count")],
        "",
    );
    let (status, body) = http_get(server.port, &path);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"channels": {"news": {"subscription_count": 4}, "sport": {"subscription_count": 4}}})
    );
    let path = signed_path(
        &server,
        "GET",
        "/apps/424242/channels",
        &[("filter_by_prefix", "sp")],
        "",
    );
    let (_, body) = http_get(server.port, &path);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"channels": {"sport": {}}})
    );
    let path = signed_path(
        &server,
        "GET",
        "/apps/424242/channels",
        &[("info", "user_count")],
        "",
    );
    assert_eq!(
        http_get(server.port, &path).0,
        400,
        "user_count needs a presence- prefix"
    );
}

#[test]
fn app_connection_limit_is_enforced() {
    let server = Server::start(&[("REVERB_APP_MAX_CONNECTIONS", "2")]);
    let (_a, _) = connect(&server);
    let (_b, _) = connect(&server);
    let mut c = RawClient::connect(&server, &format!("/app/{KEY}?protocol=7"));
    let err = c.recv_json();
    assert_eq!(err["data"]["code"], 4004, "{err}");
    assert_eq!(c.recv_close(), 4004);
}

#[test]
fn origins_outside_the_allowed_list_are_refused() {
    use std::io::{Read, Write};
    let server = Server::start(&[(
        "REVERB_APP_ALLOWED_ORIGINS",
        "app.example.com,*.example.org",
    )]);
    let attempt = |origin: &str| -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let req = format!(
            "GET /app/{KEY}?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut buf = vec![0u8; 4096];
        let mut got = Vec::new();
        while !String::from_utf8_lossy(&got).contains("pusher:") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&got).into_owned()
    };
    assert!(attempt("https://app.example.com").contains("connection_established"));
    assert!(attempt("https://eu.example.org:8443").contains("connection_established"));
    let refused = attempt("https://evil.example.net");
    assert!(
        refused.contains("pusher:error") && refused.contains("4009"),
        "{refused}"
    );
}

fn signin(c: &mut RawClient, socket_id: &str, user_data: &Value) -> Value {
    let user_data = user_data.to_string();
    let sig = ringcast::proto::pusher::user_signature(SECRET, socket_id, &user_data);
    c.send_text(
        &json!({"event":"pusher:signin","data":{"auth":format!("{KEY}:{sig}"),"user_data":user_data}})
            .to_string(),
    );
    c.recv_json()
}

#[test]
fn watchlist_reports_online_and_offline_across_cores() {
    let server = Server::start(&[("RINGCAST_WORKERS", "2")]);
    let (mut a, ida) = connect(&server);
    let ok = signin(&mut a, &ida, &json!({"id":"a","watchlist":["b"]}));
    assert_eq!(ok["event"], "pusher:signin_success", "{ok}");
    // b signs in from three connections: a hears "online" once; the last close gives "offline".
    let mut tabs: Vec<RawClient> = Vec::new();
    for _ in 0..3 {
        let (mut b, idb) = connect(&server);
        assert_eq!(
            signin(&mut b, &idb, &json!({"id":"b"}))["event"],
            "pusher:signin_success"
        );
        tabs.push(b);
    }
    let online = a.recv_json();
    assert_eq!(online["event"], "pusher_internal:watchlist_events");
    assert_eq!(
        online["data"]["events"],
        json!([{"name":"online","user_ids":["b"]}])
    );
    // A watcher who signs in later learns at once that b is online.
    let (mut c, idc) = connect(&server);
    assert_eq!(
        signin(&mut c, &idc, &json!({"id":"c","watchlist":["b","nobody"]}))["event"],
        "pusher:signin_success"
    );
    assert_eq!(c.recv_json()["data"]["events"][0]["name"], "online");
    tabs.truncate(1);
    a.send_text(&json!({"event":"pusher:ping","data":{}}).to_string());
    assert_eq!(
        a.recv_json()["event"],
        "pusher:pong",
        "no offline while a tab is open"
    );
    tabs.clear();
    let offline = a.recv_json();
    assert_eq!(
        offline["data"]["events"],
        json!([{"name":"offline","user_ids":["b"]}])
    );
    assert_eq!(c.recv_json()["data"]["events"][0]["name"], "offline");
    // A bad signature is refused.
    let (mut d, _) = connect(&server);
    let bad = signin(&mut d, "1.1", &json!({"id":"d"}));
    assert_eq!(bad["event"], "pusher:error");
}

#[test]
fn connections_must_sign_in_within_the_app_timeout() {
    let server = Server::start(&[("REVERB_APP_USER_AUTHENTICATION_TIMEOUT", "1")]);
    let (mut lazy, _) = connect(&server);
    let (mut prompt, id) = connect(&server);
    assert_eq!(
        signin(&mut prompt, &id, &json!({"id":"p"}))["event"],
        "pusher:signin_success"
    );
    let err = lazy.recv_json();
    assert_eq!(err["event"], "pusher:error");
    assert_eq!(err["data"]["code"], 4009, "{err}");
    assert_eq!(lazy.recv_close(), 4009);
    // The signed-in neighbour is untouched.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    prompt.send_text(&json!({"event":"pusher:ping","data":{}}).to_string());
    assert_eq!(prompt.recv_json()["event"], "pusher:pong");
}

#[test]
fn too_many_channels_or_a_long_event_name_are_refused_with_the_limit_named() {
    let server = Server::start(&[
        ("REVERB_APP_MAX_CHANNELS_PER_EVENT", "2"),
        ("REVERB_APP_MAX_EVENT_NAME_LENGTH", "10"),
    ]);
    for body in [
        json!({"name":"e","channels":["a","b","c"],"data":"x"}),
        json!({"name":"a-very-long-event-name","channel":"a","data":"x"}),
    ] {
        let body = body.to_string();
        let path = signed_path(&server, "POST", "/apps/424242/events", &[], &body);
        let (status, resp) = http_post(server.port, &path, &body);
        assert_eq!(status, 400, "{resp}");
        assert!(
            resp.contains("limit") || resp.contains("10") || resp.contains('2'),
            "{resp}"
        );
    }
}
