//! A raw WebSocket client for tests: a blocking `TcpStream` plus ringcast's own codec in the
//! client role, so every byte on the wire is under the test's control.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::BytesMut;
use ringcast::proto::ws::{self, Decoder, Message, Opcode, Role};
use serde_json::Value;

pub struct RawClient {
    pub stream: TcpStream,
    buf: BytesMut,
    decoder: Decoder,
}

impl RawClient {
    /// Connects to `path` and completes the upgrade; panics unless the server answers 101.
    pub fn connect(server: &crate::common::Server, path: &str) -> RawClient {
        Self::connect_port(server.port, path)
    }

    /// Connects to `path` on `port` and completes the upgrade.
    pub fn connect_port(port: u16, path: &str) -> RawClient {
        let (status, client) = Self::try_connect_port(port, path);
        assert!(
            status.starts_with("HTTP/1.1 101"),
            "upgrade refused: {status}"
        );
        client
            .stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        client
    }

    /// Sends the upgrade request and returns the response head with the client.
    pub fn try_connect_port(port: u16, path: &str) -> (String, RawClient) {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let req = ws::client_request("127.0.0.1", path, "dGhlIHNhbXBsZSBub25jZQ==");
        stream.write_all(&req).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                // The in-process server's io_uring work can interrupt a blocking read here.
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Ok(_) => {
                    head.extend_from_slice(b"<EOF before a complete head>");
                    break;
                }
                Err(e) => {
                    head.extend_from_slice(format!("<read error: {e}>").as_bytes());
                    break;
                }
            }
        }
        let client = RawClient {
            stream,
            buf: BytesMut::new(),
            decoder: Decoder::new(Role::Client, 1 << 20),
        };
        (String::from_utf8_lossy(&head).into_owned(), client)
    }

    pub fn send_frame(&mut self, opcode: Opcode, payload: &[u8], masked: bool) {
        let mut out = Vec::new();
        let mask = masked.then_some([0x12, 0x34, 0x56, 0x78]);
        ws::encode_frame(&mut out, opcode, true, payload, mask);
        self.stream.write_all(&out).unwrap();
    }

    pub fn send_text(&mut self, text: &str) {
        self.send_frame(Opcode::Text, text.as_bytes(), true);
    }

    /// The next message; panics after the read timeout.
    pub fn recv(&mut self) -> Message {
        loop {
            if let Some(msg) = self
                .decoder
                .decode(&mut self.buf)
                .expect("server frame invalid")
            {
                return msg;
            }
            let mut chunk = [0u8; 4096];
            let n = match self.stream.read(&mut chunk) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => other.expect("no message from the server in time"),
            };
            assert!(
                n > 0,
                "server closed the TCP connection without a close frame"
            );
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next text message as JSON.
    pub fn recv_json(&mut self) -> Value {
        match self.recv() {
            Message::Text(t) => serde_json::from_slice(&t).unwrap(),
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    /// The next message must be a close frame; returns its code.
    pub fn recv_close(&mut self) -> u16 {
        match self.recv() {
            Message::Close(Some(frame)) => frame.code,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }

    /// Reads `pusher:connection_established` and returns the socket id.
    pub fn established(&mut self) -> String {
        let msg = self.recv_json();
        assert_eq!(msg["event"], "pusher:connection_established");
        let data: Value = serde_json::from_str(msg["data"].as_str().unwrap()).unwrap();
        data["socket_id"].as_str().unwrap().to_owned()
    }
}

/// A connected client subscribed to public channels, for observing deliveries.
pub struct Subscriber {
    pub client: RawClient,
    pub socket_id: String,
}

impl Subscriber {
    /// Connects with app `key` and subscribes to `channels`, waiting for each confirmation.
    pub fn connect(port: u16, key: &str, channels: &[&str]) -> Subscriber {
        let mut client = RawClient::connect_port(port, &format!("/app/{key}?protocol=7"));
        let socket_id = client.established();
        for channel in channels {
            client.send_text(
                &serde_json::json!({"event": "pusher:subscribe", "data": {"channel": channel}})
                    .to_string(),
            );
            let msg = client.recv_json();
            assert_eq!(
                msg["event"], "pusher_internal:subscription_succeeded",
                "{msg}"
            );
        }
        Subscriber { client, socket_id }
    }

    /// The next channel event (skipping protocol messages such as pings).
    pub fn next_event(&mut self) -> Value {
        loop {
            let msg = self.client.recv_json();
            let event = msg["event"].as_str().unwrap_or_default();
            if !event.starts_with("pusher") {
                return msg;
            }
        }
    }
}
