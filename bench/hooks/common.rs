//! What the webhook benches share: the release server started on a local port with its own
//! data directory, signed REST calls, the local receivers and their endpoints, and the
//! machine's load and the server's CPU time, reported beside every figure because the
//! machine may be shared.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::hook_receiver::{Answer, Options, Receiver};
use ringcast::proto::api::sign_request;

/// The app every bench publishes to: (id, key, secret).
pub const APP: (&str, &str, &str) = ("bench", "bench-key", "bench-secret");

/// `n` receivers answering 204 at once.
pub fn receivers(n: usize) -> Vec<Receiver> {
    (0..n)
        .map(|_| {
            Receiver::start(Options {
                then: Answer::status(204),
                ..Options::default()
            })
        })
        .collect()
}

/// Creates `n` endpoints for `events` patterns, spread over `receivers`.
pub fn register(port: u16, receivers: &[Receiver], n: usize, events: &str) {
    for i in 0..n {
        let url = receivers[i % receivers.len()].url("http");
        let body = format!(r#"{{"name":"e{i}","url":"{url}","events":["{events}"]}}"#);
        let (status, answer) = signed(port, "POST", &format!("/apps/{}/webhooks", APP.0), &body);
        assert_eq!(status, 201, "{answer}");
    }
}

/// Deliveries the receivers have answered so far.
pub fn received(receivers: &[Receiver]) -> usize {
    receivers.iter().map(|r| r.count()).sum()
}

/// User plus system CPU seconds of process `pid` so far (Linux clock ticks of 1/100 s).
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the parenthesised name; utime and stime are the 14th and 15th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The release binary (or `RINGCAST_BIN`) on `port` with `workers` shards and its store in
/// `data`.
pub fn start_server(port: u16, data: &std::path::Path, workers: usize) -> Child {
    let config = data.join("ringcast.toml");
    std::fs::write(
        &config,
        "[webhooks]\nallowed_subnets = [\"127.0.0.0/8\"]\nmax_per_endpoint = 32\n",
    )
    .unwrap();
    let bin = std::env::var("RINGCAST_BIN").unwrap_or(env!("CARGO_BIN_EXE_ringcast").to_owned());
    let child = Command::new(bin)
        .arg("--config")
        .arg(&config)
        .env("REVERB_SERVER_HOST", "127.0.0.1")
        .env("REVERB_SERVER_PORT", port.to_string())
        .env("REVERB_APP_ID", APP.0)
        .env("REVERB_APP_KEY", APP.1)
        .env("REVERB_APP_SECRET", APP.2)
        .env("RINGCAST_WORKERS", workers.to_string())
        .env("RINGCAST_MAX_CONNECTIONS_PER_IP_PER_MINUTE", "0")
        .env("RINGCAST_DATA_DIR", data.join("store"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("the ringcast binary starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "ringcast did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// A signed REST call: (status, body).
pub fn signed(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let query = sign_request(method, path, &[], body.as_bytes(), APP.1, APP.2, now);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let request = format!(
        "{method} {path}?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, answer)
}
