//! `ringcast-floor`: the ideal fan-out server that `scripts/bench` measures ringcast against.
//!
//! It does the least a Pusher server must do for `ringcast-load`'s `fanout` and `channels`
//! workloads and nothing else: WebSocket upgrades on `/app/{key}` (any key), a
//! `pusher:connection_established`, `pusher:subscribe` answered with
//! `pusher_internal:subscription_succeeded` (no authorisation), pings, and the REST
//! `POST /apps/{id}/events` taken without checking its signature. Each event's frame is encoded
//! once and written to every subscriber's socket from W threads (`--threads`, default 2), each
//! owning the connections it was given. What ringcast costs above this floor is its protocol work.
//!
//! Module map: `hub` (the worker threads, their subscriptions and the fan-out), `http`
//! (request heads, the upgrade answer, the REST publish), `session` (one WebSocket client),
//! `sink` (writing to a subscriber's socket).
//! Never for production: no limits, no validation, no TLS.

#[path = "../ws.rs"]
#[allow(dead_code)]
mod ws;

mod http;
mod hub;
mod session;
mod sink;

use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;

use clap::Parser;

/// The ideal fan-out server: encodes each event once and writes it from W threads.
#[derive(Debug, Parser)]
#[command(name = "ringcast-floor", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Worker threads (each owns the connections it is given and writes to them).
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let addr: SocketAddr = match format!("{}:{}", args.host, args.port).parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ringcast-floor: --host/--port: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ringcast-floor: cannot listen on {addr}: {e}");
            return ExitCode::from(1);
        }
    };
    let workers = match hub::start(args.threads.max(1)) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("ringcast-floor: cannot start the worker threads: {e}");
            return ExitCode::from(1);
        }
    };
    eprintln!(
        "ringcast-floor: listening on {addr} with {} threads",
        args.threads.max(1)
    );
    // Round-robin: each accepted socket belongs to one worker for its whole life.
    for (n, stream) in listener.incoming().enumerate() {
        match stream {
            Ok(s) => workers.hand_over(n, s),
            Err(e) => {
                // Usually EMFILE: say so and back off instead of spinning.
                eprintln!("ringcast-floor: accept: {e}");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
    ExitCode::SUCCESS
}
