//! Webhook deliveries per second from the real (release) binary to a local receiver, with 1,000
//! endpoints spread over 8 receiver ports, and the receiver's own rate measured alone first so
//! that it is known not to be the limit. Run with `cargo bench --bench webhooks`.
//!
//! Each endpoint subscribes to every event, so one published event makes 1,000 deliveries;
//! the run publishes [`EVENTS`] events (`BENCH_EVENTS` overrides it, for a longer run to
//! profile) and times the last delivery's arrival. `RINGCAST_BIN` runs another build of the
//! server (the before figure of a change, measured in the same conditions).

#[path = "common.rs"]
mod common;
#[path = "../../tests/support/hook_receiver.rs"]
#[allow(dead_code)]
mod hook_receiver;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

const ENDPOINTS: usize = 1_000;
const PORTS: usize = 8;
const EVENTS: usize = 20;

fn main() {
    // The machine may be shared: the load beside the figures says how far to trust them.
    println!("load average at start: {}", load_average());
    let receivers = receivers(PORTS);
    let alone = receiver_alone(receivers[0].port, Duration::from_secs(2));
    println!("receiver alone: {alone:.0} requests/s (8 kept-alive client threads)");

    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    // One shard: the control core takes the second core.
    let mut server = start_server(port, data.path(), 1);
    register(port, &receivers, ENDPOINTS, "*");
    let events = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(EVENTS);
    let already = received(&receivers);
    let cpu_before = cpu_seconds(server.id());
    let started = Instant::now();
    for e in 0..events {
        let body = format!(r#"{{"name":"bench.{e}","channels":["orders"],"data":"{{}}"}}"#);
        let (status, answer) = signed(port, "POST", &format!("/apps/{}/events", APP.0), &body);
        assert_eq!(status, 200, "{answer}");
    }
    let want = already + events * ENDPOINTS;
    let deadline = started + Duration::from_secs(300);
    loop {
        let got = received(&receivers);
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
    let cpu = cpu_seconds(server.id()) - cpu_before;
    let conns: usize = receivers.iter().map(|r| r.connections()).sum();
    println!(
        "ringcast: {} deliveries to {ENDPOINTS} endpoints in {:.2} s: {:.0} deliveries/s over {conns} connections",
        events * ENDPOINTS,
        took.as_secs_f64(),
        (events * ENDPOINTS) as f64 / took.as_secs_f64()
    );
    // CPU time per delivery holds better than the rate when other work shares the cores.
    println!(
        "server CPU (all threads): {cpu:.2} s, {:.0} µs per delivery",
        cpu * 1e6 / (events * ENDPOINTS) as f64
    );
    println!("load average at end: {}", load_average());
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
