//! Webhook deliveries per second from the real (release) binary to a local receiver, with 1,000
//! endpoints spread over 8 receiver ports, and the receiver's own rate measured alone first so
//! that it is known not to be the limit. Run with `cargo bench --bench webhooks`.
//!
//! Each endpoint subscribes to every event, so one published event makes 1,000 deliveries;
//! the run publishes [`EVENTS`] events and times the last delivery's arrival.

#[path = "../../tests/support/hook_receiver.rs"]
#[allow(dead_code)]
mod hook_receiver;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hook_receiver::{Answer, Options, Receiver};
use ringcast::proto::api::sign_request;

const ENDPOINTS: usize = 1_000;
const PORTS: usize = 8;
const EVENTS: usize = 20;
const APP: (&str, &str, &str) = ("bench", "bench-key", "bench-secret");

fn main() {
    let receivers: Vec<Receiver> = (0..PORTS)
        .map(|_| {
            Receiver::start(Options {
                then: Answer::status(204),
                ..Options::default()
            })
        })
        .collect();
    let alone = receiver_alone(receivers[0].port, Duration::from_secs(2));
    println!("receiver alone: {alone:.0} requests/s (8 kept-alive client threads)");

    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start_server(port, data.path());
    for i in 0..ENDPOINTS {
        let url = receivers[i % PORTS].url("http");
        let body = format!(r#"{{"name":"e{i}","url":"{url}","events":["*"]}}"#);
        let (status, answer) = signed(port, "POST", &format!("/apps/{}/webhooks", APP.0), &body);
        assert_eq!(status, 201, "{answer}");
    }
    let already: usize = receivers.iter().map(|r| r.count()).sum();
    let started = Instant::now();
    for e in 0..EVENTS {
        let body = format!(r#"{{"name":"bench.{e}","channels":["orders"],"data":"{{}}"}}"#);
        let (status, answer) = signed(port, "POST", &format!("/apps/{}/events", APP.0), &body);
        assert_eq!(status, 200, "{answer}");
    }
    let want = already + EVENTS * ENDPOINTS;
    let deadline = started + Duration::from_secs(300);
    loop {
        let got: usize = receivers.iter().map(|r| r.count()).sum();
        if got >= want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{got} of {want} deliveries after 300 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = started.elapsed();
    let conns: usize = receivers.iter().map(|r| r.connections()).sum();
    println!(
        "ringcast: {} deliveries to {ENDPOINTS} endpoints in {:.2} s: {:.0} deliveries/s over {conns} connections",
        EVENTS * ENDPOINTS,
        took.as_secs_f64(),
        (EVENTS * ENDPOINTS) as f64 / took.as_secs_f64()
    );
    let _ = server.kill();
    let _ = server.wait();
}

/// Requests per second one receiver answers to 8 threads, each on its own kept-alive connection.
fn receiver_alone(port: u16, run: Duration) -> f64 {
    let body = "x".repeat(250);
    let request = format!(
        "POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let started = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let request = request.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_nodelay(true).unwrap();
                let mut n = 0u64;
                let mut buf = [0u8; 512];
                while started.elapsed() < run {
                    s.write_all(request.as_bytes()).unwrap();
                    // A 204 head is all the answer there is.
                    let mut got = Vec::new();
                    while !got.ends_with(b"\r\n\r\n") {
                        let k = s.read(&mut buf).unwrap();
                        assert!(k > 0, "receiver closed");
                        got.extend_from_slice(&buf[..k]);
                    }
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    total as f64 / started.elapsed().as_secs_f64()
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The release binary on `port` with one shard (the control core takes the second core).
fn start_server(port: u16, data: &std::path::Path) -> Child {
    let config = data.join("ringcast.toml");
    std::fs::write(
        &config,
        "[webhooks]\nallowed_subnets = [\"127.0.0.0/8\"]\nmax_per_endpoint = 32\n",
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_ringcast"))
        .arg("--config")
        .arg(&config)
        .env("REVERB_SERVER_HOST", "127.0.0.1")
        .env("REVERB_SERVER_PORT", port.to_string())
        .env("REVERB_APP_ID", APP.0)
        .env("REVERB_APP_KEY", APP.1)
        .env("REVERB_APP_SECRET", APP.2)
        .env("RINGCAST_WORKERS", "1")
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
fn signed(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
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
