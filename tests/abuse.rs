//! Abusive clients against the real binary. Every case runs a bad client next to a good one and
//! checks both: the bad one gets the protocol's clear answer, the good one notices nothing.

mod common;
#[path = "support/raw_client.rs"]
mod raw_client;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{http_get, http_post, signed_path, Server};
use raw_client::{RawClient, Subscriber};
use ringcast::proto::ws::Opcode;
use serde_json::{json, Value};

const KEY: &str = "test-key";

/// A good client that must stay healthy: it subscribes to `good` and answers pings.
struct Neighbour(Subscriber);

impl Neighbour {
    fn new(server: &Server) -> Neighbour {
        Neighbour(Subscriber::connect(server.port, KEY, &["good"]))
    }

    /// A REST event on `good` reaches it, and a pusher:ping is answered.
    fn assert_healthy(&mut self, server: &Server) {
        let body = r#"{"name":"still-here","channel":"good","data":"1"}"#;
        let path = signed_path(server, "POST", "/apps/424242/events", &[], body);
        let (status, resp) = http_post(server.port, &path, body);
        assert_eq!(status, 200, "{resp}");
        assert_eq!(self.0.next_event()["event"], "still-here");
        self.0
            .client
            .send_text(&json!({"event":"pusher:ping","data":{}}).to_string());
        loop {
            let msg = self.0.client.recv_json();
            if msg["event"] == "pusher:pong" {
                break;
            }
        }
    }
}

/// Sends an upgrade request with extra header lines and returns the response head.
fn upgrade_with(port: u16, extra: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let req = format!(
        "GET /app/{KEY}?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => got.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn connection_rate_per_address_is_an_exact_window_with_429_and_retry_after() {
    let server = Server::start(&[
        ("RINGCAST_WORKERS", "2"),
        ("RINGCAST_MAX_CONNECTIONS_PER_IP_PER_MINUTE", "5"),
        ("RINGCAST_TRUSTED_PROXIES", "10.0.0.0/8"),
    ]);
    let mut good = Neighbour::new(&server); // the first of 127.0.0.1's five
    let mut held = Vec::new();
    for _ in 0..4 {
        assert!(upgrade_with(server.port, "").starts_with("HTTP/1.1 101"));
        held.push(());
    }
    // Both cores refuse the sixth: the window is counted by one owner per address.
    for _ in 0..4 {
        let refused = upgrade_with(server.port, "");
        assert!(refused.starts_with("HTTP/1.1 429"), "{refused}");
        let retry: u64 = refused
            .lines()
            .find_map(|l| l.strip_prefix("Retry-After: "))
            .and_then(|v| v.trim().parse().ok())
            .expect("Retry-After header");
        assert!((1..=60).contains(&retry), "{retry}");
    }
    // X-Forwarded-For from an untrusted peer (127.0.0.1 is not in 10.0.0.0/8) changes nothing.
    assert!(
        upgrade_with(server.port, "X-Forwarded-For: 203.0.113.9\r\n").starts_with("HTTP/1.1 429")
    );
    // REST is not counted against WebSocket connections.
    good.assert_healthy(&server);
}

#[test]
fn forwarded_addresses_from_a_trusted_proxy_get_their_own_windows() {
    let server = Server::start(&[
        ("RINGCAST_MAX_CONNECTIONS_PER_IP_PER_MINUTE", "2"),
        ("RINGCAST_TRUSTED_PROXIES", "127.0.0.1"),
    ]);
    for client in ["203.0.113.1", "203.0.113.2", "2001:db8::1"] {
        let header = format!("X-Forwarded-For: {client}\r\n");
        assert!(upgrade_with(server.port, &header).starts_with("HTTP/1.1 101"));
        assert!(upgrade_with(server.port, &header).starts_with("HTTP/1.1 101"));
        assert!(
            upgrade_with(server.port, &header).starts_with("HTTP/1.1 429"),
            "{client}"
        );
    }
    // Another address in the same IPv6 /64 shares that window.
    let same64 = "X-Forwarded-For: 2001:db8::ffff\r\n";
    assert!(upgrade_with(server.port, same64).starts_with("HTTP/1.1 429"));
}

#[test]
fn slowloris_is_cut_off_at_the_handshake_timeout() {
    let server = Server::start(&[("RINGCAST_HANDSHAKE_TIMEOUT", "1")]);
    let mut good = Neighbour::new(&server);
    let mut slow = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    slow.write_all(b"GET /app/test-key?protocol=7 HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let started = Instant::now();
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 64];
    let n = slow.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the server closes the stalled connection");
    assert!(started.elapsed() < Duration::from_secs(4));
    good.assert_healthy(&server);
}

#[test]
fn oversized_head_frame_and_message_are_refused_alone() {
    let server = Server::start(&[("REVERB_APP_MAX_MESSAGE_SIZE", "1000")]);
    let mut good = Neighbour::new(&server);
    let big_header = format!("X-Junk: {}\r\n", "a".repeat(9000));
    assert!(upgrade_with(server.port, &big_header).starts_with("HTTP/1.1 431"));
    // One frame over the limit is refused from its header, before its payload arrives.
    let mut bad = RawClient::connect(&server, &format!("/app/{KEY}?protocol=7"));
    bad.established();
    let mut header = vec![0x81, 0xFF];
    header.extend_from_slice(&(1u64 << 40).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    bad.stream.write_all(&header).unwrap();
    assert_eq!(bad.recv_close(), 1009);
    // A message over the limit assembled from small fragments is refused too.
    let mut frag = RawClient::connect(&server, &format!("/app/{KEY}?protocol=7"));
    frag.established();
    let mut out = Vec::new();
    ringcast::proto::ws::encode_frame(
        &mut out,
        Opcode::Text,
        false,
        &[b'a'; 600],
        Some([1, 2, 3, 4]),
    );
    ringcast::proto::ws::encode_frame(
        &mut out,
        Opcode::Continuation,
        false,
        &[b'a'; 600],
        Some([1, 2, 3, 4]),
    );
    frag.stream.write_all(&out).unwrap();
    assert_eq!(frag.recv_close(), 1009);
    good.assert_healthy(&server);
}

#[test]
fn subscriptions_per_connection_are_capped() {
    let server = Server::start(&[("REVERB_APP_MAX_SUBSCRIPTIONS_PER_CONNECTION", "3")]);
    let mut good = Neighbour::new(&server);
    let mut greedy = Subscriber::connect(server.port, KEY, &["a", "b", "c"]);
    greedy
        .client
        .send_text(&json!({"event":"pusher:subscribe","data":{"channel":"d"}}).to_string());
    let refused = greedy.client.recv_json();
    assert_eq!(refused["event"], "pusher:subscription_error", "{refused}");
    assert_eq!(refused["channel"], "d");
    assert_eq!(refused["data"]["status"], 429);
    good.assert_healthy(&server);
}

#[test]
fn connections_per_app_are_capped() {
    let server = Server::start(&[("REVERB_APP_MAX_CONNECTIONS", "2")]);
    let mut good = Neighbour::new(&server);
    let _second = Subscriber::connect(server.port, KEY, &[]);
    let mut third = RawClient::connect(&server, &format!("/app/{KEY}?protocol=7"));
    assert_eq!(third.recv_json()["data"]["code"], 4004);
    assert_eq!(third.recv_close(), 4004);
    good.assert_healthy(&server);
}

#[test]
fn a_ping_flood_is_rate_limited_with_4301_and_the_neighbour_is_unaffected() {
    let server = Server::start(&[("REVERB_APP_MAX_MESSAGES_PER_SECOND", "20")]);
    let mut good = Neighbour::new(&server);
    // The connection's window opens once it is established, after this instant.
    let started = Instant::now();
    let mut flood = RawClient::connect(&server, &format!("/app/{KEY}?protocol=7"));
    flood.established();
    let ping = json!({"event":"pusher:ping","data":{}}).to_string();
    let mut burst = Vec::new();
    for _ in 0..500 {
        ringcast::proto::ws::encode_frame(
            &mut burst,
            Opcode::Text,
            true,
            ping.as_bytes(),
            Some([9, 9, 9, 9]),
        );
    }
    flood.stream.write_all(&burst).unwrap();
    // Messages are answered in order: the budget's pongs, then the 4301 for the first excess
    // message; the rest of the burst is dropped unanswered.
    let mut pongs = 0;
    let limited_at = loop {
        let msg = flood.recv_json();
        match msg["event"].as_str() {
            Some("pusher:pong") => pongs += 1,
            Some("pusher:error") => {
                assert_eq!(msg["data"]["code"], 4301, "{msg}");
                break Instant::now();
            }
            _ => panic!("unexpected {msg}"),
        }
    };
    // Within the connection's first second exactly the budget is answered; on a machine that
    // stalled the burst past a second a new window may have opened before the budget ran out.
    if limited_at < started + Duration::from_secs(1) {
        assert_eq!(pongs, 20, "the budget of 20 is answered before the 4301");
    } else {
        assert!(pongs >= 20, "{pongs} pongs before the 4301");
    }
    good.assert_healthy(&server);
}

/// Publishes one REST event on `other`: (status, body).
fn publish_other(server: &Server) -> (u16, String) {
    let body = r#"{"name":"e","channel":"other","data":"1"}"#;
    let path = signed_path(server, "POST", "/apps/424242/events", &[], body);
    http_post(server.port, &path, body)
}

/// Publishes until one is refused (30 at most): how many were accepted first, and when the
/// refusal arrived. The refusal must be a 429 naming the setting.
fn publish_until_refused(server: &Server) -> (usize, Instant) {
    for accepted in 0..30 {
        let (status, resp) = publish_other(server);
        if status != 200 {
            assert_eq!(status, 429, "{resp}");
            assert!(resp.contains("max_backend_events_per_second"), "{resp}");
            return (accepted, Instant::now());
        }
    }
    panic!("30 events in a row were accepted with a budget of 5 per second");
}

/// Polls (every 20 ms, 5 s at most) until a publish is accepted again; returns when it was sent.
fn wait_for_budget(server: &Server) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let sent = Instant::now();
        if publish_other(server).0 == 200 {
            return sent;
        }
        assert!(Instant::now() < deadline, "the budget never came back");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn backend_events_per_app_are_rate_limited_with_429() {
    // One worker: the app's budget is split evenly over the cores that accept REST requests.
    let server = Server::start(&[
        ("RINGCAST_WORKERS", "1"),
        ("REVERB_APP_MAX_BACKEND_EVENTS_PER_SECOND", "5"),
    ]);
    let mut good = Neighbour::new(&server);
    // The budget is counted in one-second windows, and the burst may straddle the end of the
    // window the shard began with: the whole budget first, at most one window more.
    let (accepted, _) = publish_until_refused(&server);
    assert!((5..=10).contains(&accepted), "{accepted} accepted");
    // The first event accepted after a window has run out opens the next window, so the
    // budget is exactly that event and four more, provided the refusal came within its second.
    let opened = wait_for_budget(&server);
    let (accepted, refused) = publish_until_refused(&server);
    if refused < opened + Duration::from_secs(1) {
        assert_eq!(accepted, 4, "a fresh window admits the budget of 5");
    } else {
        assert!(accepted >= 4, "{accepted} accepted after the window opened");
    }
    wait_for_budget(&server);
    good.assert_healthy(&server);
}

#[test]
fn a_peer_that_vanishes_is_pinged_out_while_the_neighbour_stays() {
    let server = Server::start(&[
        ("REVERB_APP_PING_INTERVAL", "1"),
        ("REVERB_APP_ACTIVITY_TIMEOUT", "1"),
    ]);
    // The half-open peer: connected, then silent forever (never reads, never answers).
    let mut gone = RawClient::connect(&server, &format!("/app/{KEY}?protocol=7"));
    gone.established();
    let mut good = Neighbour::new(&server);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // The neighbour answers the server's pings, as pusher-js does.
        good.0
            .client
            .send_text(&json!({"event":"pusher:pong","data":{}}).to_string());
        let (_, health) = http_get(server.port, "/api/v1/websocket/health");
        let health: Value = serde_json::from_str(&health).unwrap();
        if health["connections"] == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the silent peer was never closed: {health}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    good.assert_healthy(&server);
    drop(gone);
}
