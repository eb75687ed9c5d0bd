//! Raw WebSocket edge cases against the real binary: what a misbehaving client gets.

mod common;
#[path = "support/raw_client.rs"]
mod raw_client;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::Server;
use raw_client::RawClient;
use ringcast::proto::ws::{self, Message, Opcode};
use serde_json::Value;

const KEY: &str = "test-key";

fn app_path() -> String {
    format!("/app/{KEY}?protocol=7&client=js&version=8.4.0")
}

#[test]
fn connection_established_carries_socket_id_and_activity_timeout() {
    let server = Server::start(&[("REVERB_APP_ACTIVITY_TIMEOUT", "45")]);
    let mut c = RawClient::connect(&server, &app_path());
    let msg = c.recv_json();
    assert_eq!(msg["event"], "pusher:connection_established");
    let data: Value = serde_json::from_str(msg["data"].as_str().unwrap()).unwrap();
    let id = data["socket_id"].as_str().unwrap();
    let (a, b) = id.split_once('.').unwrap();
    assert!(
        !a.is_empty() && a.bytes().all(|c| c.is_ascii_digit()),
        "{id}"
    );
    assert!(
        !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()),
        "{id}"
    );
    assert_eq!(data["activity_timeout"], 45);
}

#[test]
fn unknown_app_key_gets_4001_and_close() {
    let server = Server::start(&[]);
    let mut c = RawClient::connect(&server, "/app/no-such-key?protocol=7");
    let msg = c.recv_json();
    assert_eq!(msg["event"], "pusher:error");
    assert_eq!(msg["data"]["code"], 4001);
    assert_eq!(c.recv_close(), 4001);
}

#[test]
fn unsupported_protocol_gets_4007() {
    let server = Server::start(&[]);
    let mut c = RawClient::connect(&server, &format!("/app/{KEY}?protocol=2"));
    let msg = c.recv_json();
    assert_eq!(msg["data"]["code"], 4007);
    assert_eq!(c.recv_close(), 4007);
}

#[test]
fn unmasked_client_frame_is_closed_with_1002() {
    let server = Server::start(&[]);
    let mut c = RawClient::connect(&server, &app_path());
    c.established();
    c.send_frame(Opcode::Text, br#"{"event":"pusher:ping","data":{}}"#, false);
    assert_eq!(c.recv_close(), 1002);
}

#[test]
fn oversized_message_is_closed_with_1009() {
    let server = Server::start(&[("REVERB_APP_MAX_MESSAGE_SIZE", "1000")]);
    let mut c = RawClient::connect(&server, &app_path());
    c.established();
    let big = format!(r#"{{"event":"client-x","data":"{}"}}"#, "a".repeat(2000));
    c.send_text(&big);
    assert_eq!(c.recv_close(), 1009);
}

#[test]
fn invalid_utf8_is_closed_with_1007() {
    let server = Server::start(&[]);
    let mut c = RawClient::connect(&server, &app_path());
    c.established();
    c.send_frame(Opcode::Text, &[0x7b, 0xff, 0xfe, 0x7d], true);
    assert_eq!(c.recv_close(), 1007);
}

#[test]
fn bad_json_gets_pusher_error_and_the_connection_stays() {
    let server = Server::start(&[]);
    let mut c = RawClient::connect(&server, &app_path());
    c.established();
    c.send_text("{not json");
    let msg = c.recv_json();
    assert_eq!(msg["event"], "pusher:error");
    c.send_text(r#"{"event":"pusher:bogus","data":{}}"#);
    assert_eq!(c.recv_json()["event"], "pusher:error");
    c.send_text(r#"{"event":"pusher:ping","data":{}}"#);
    assert_eq!(c.recv_json()["event"], "pusher:pong");
}

#[test]
fn websocket_ping_gets_pong_with_the_same_payload() {
    let server = Server::start(&[]);
    let mut c = RawClient::connect(&server, &app_path());
    c.established();
    c.send_frame(Opcode::Ping, b"hello", true);
    match c.recv() {
        Message::Pong(p) => assert_eq!(&p[..], b"hello"),
        other => panic!("expected pong, got {other:?}"),
    }
}

#[test]
fn client_close_is_echoed() {
    let server = Server::start(&[]);
    let mut c = RawClient::connect(&server, &app_path());
    c.established();
    c.send_frame(Opcode::Close, &ws::close_payload(1000, "bye"), true);
    assert_eq!(c.recv_close(), 1000);
}

#[test]
fn idle_client_is_pinged_then_closed_with_4201() {
    let server = Server::start(&[
        ("REVERB_APP_PING_INTERVAL", "1"),
        ("REVERB_APP_ACTIVITY_TIMEOUT", "1"),
    ]);
    let mut c = RawClient::connect(&server, &app_path());
    c.established();
    assert_eq!(c.recv_json()["event"], "pusher:ping");
    let err = c.recv_json();
    assert_eq!(err["event"], "pusher:error");
    assert_eq!(err["data"]["code"], 4201);
    assert_eq!(c.recv_close(), 4201);
}

#[test]
fn answered_ping_keeps_the_connection() {
    let server = Server::start(&[
        ("REVERB_APP_PING_INTERVAL", "1"),
        ("REVERB_APP_ACTIVITY_TIMEOUT", "2"),
    ]);
    let mut c = RawClient::connect(&server, &app_path());
    c.established();
    for _ in 0..2 {
        assert_eq!(c.recv_json()["event"], "pusher:ping");
        c.send_text(r#"{"event":"pusher:pong","data":{}}"#);
    }
    c.send_text(r#"{"event":"pusher:ping","data":{}}"#);
    assert_eq!(c.recv_json()["event"], "pusher:pong");
}

#[test]
fn private_channel_with_bad_signature_gets_subscription_error() {
    let server = Server::start(&[]);
    let mut c = RawClient::connect(&server, &app_path());
    let socket_id = c.established();
    let forged = format!("{KEY}:{}", "0".repeat(64));
    c.send_text(
        &serde_json::json!({"event":"pusher:subscribe","data":{"channel":"private-x","auth":forged}})
            .to_string(),
    );
    let msg = c.recv_json();
    assert_eq!(msg["event"], "pusher:subscription_error");
    assert_eq!(msg["channel"], "private-x");
    let good =
        ringcast::proto::pusher::channel_auth(KEY, "test-secret", &socket_id, "private-x", None);
    c.send_text(
        &serde_json::json!({"event":"pusher:subscribe","data":{"channel":"private-x","auth":good}})
            .to_string(),
    );
    let msg = c.recv_json();
    assert_eq!(msg["event"], "pusher_internal:subscription_succeeded");
    assert_eq!(msg["channel"], "private-x");
}

#[test]
fn invalid_channel_name_gets_an_error() {
    let server = Server::start(&[]);
    let mut c = RawClient::connect(&server, &app_path());
    c.established();
    let long = "a".repeat(201);
    for name in ["bad channel!", long.as_str()] {
        c.send_text(
            &serde_json::json!({"event":"pusher:subscribe","data":{"channel":name}}).to_string(),
        );
        let msg = c.recv_json();
        assert!(
            msg["event"] == "pusher:error" || msg["event"] == "pusher:subscription_error",
            "{msg}"
        );
    }
}

#[test]
fn wrong_websocket_version_gets_426() {
    let server = Server::start(&[]);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
        app_path()
    );
    stream.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    stream.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 426"), "{resp}");
    assert!(
        resp.to_ascii_lowercase()
            .contains("sec-websocket-version: 13"),
        "{resp}"
    );
}

#[test]
fn oversized_head_gets_431_and_garbage_gets_400() {
    let server = Server::start(&[]);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let req = format!("GET /up HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(9000));
    stream.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    stream.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 431"), "{resp}");

    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream.write_all(b"\x01\x02garbage\r\n\r\n").unwrap();
    let mut resp = String::new();
    stream.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(resp.contains("error"), "the body says why: {resp}");
}

#[test]
fn echo_endpoint_exists_only_when_enabled_and_echoes() {
    let server = Server::start(&[("RINGCAST_ECHO", "true")]);
    let mut c = RawClient::connect(&server, "/echo");
    c.send_frame(Opcode::Text, "héllo".as_bytes(), true);
    assert_eq!(c.recv(), Message::Text("héllo".into()));
    c.send_frame(Opcode::Binary, &[0, 1, 2], true);
    assert_eq!(c.recv(), Message::Binary(vec![0u8, 1, 2].into()));
    c.send_frame(Opcode::Close, &ws::close_payload(1000, ""), true);
    assert_eq!(c.recv_close(), 1000);

    let off = Server::start(&[]);
    let (status, _) = RawClient::try_connect_port(off.port, "/echo");
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");
}
