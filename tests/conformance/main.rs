//! WebSocket conformance suite: the equivalent of Autobahn's fuzzingclient (sections 1–7, 9
//! and 10) in Rust, run against ringcast's echo endpoint (`RINGCAST_ECHO=true`, `/echo`).
//!
//! The client side is written from RFC 6455 and Autobahn's case descriptions and shares no code
//! with `ringcast::proto::ws`, so the server's codec is judged by an independent one. Verdicts
//! follow Autobahn: OK, NON-STRICT and INFORMATIONAL pass; FAILED (including a wrong close code
//! or an unclean close where a clean one is required) fails the test. The summary is printed
//! and written to `<target>/conformance/summary.txt` and `summary.json`.
//!
//! `scripts/conformance` runs it in release mode and prints the summary.

#[path = "../common/mod.rs"]
mod common;

mod case;
mod cases;
mod client;
mod report;
mod runner;
mod script;
mod session;
mod wire;

use std::time::Instant;

use case::Verdict;
use common::Server;

#[test]
fn autobahn_fuzzingclient_sections_1_to_10() {
    let server = Server::start(&[("RINGCAST_ECHO", "true")]);
    let target = format!("ws://127.0.0.1:{}{}", server.port, session::ECHO_PATH);
    let cases = cases::all();
    let start = Instant::now();
    let results = runner::run_all(&cases, server.port);
    let wall = start.elapsed();

    let text = report::summary(&results, &target, wall);
    println!("{text}");
    let dir = report::out_dir();
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join("summary.txt"), &text))
        .and_then(|()| {
            let json = serde_json::to_string_pretty(&report::json(&results, &target, wall))
                .unwrap_or_default();
            std::fs::write(dir.join("summary.json"), json)
        });
    match written {
        Ok(()) => println!("report written to {}", dir.display()),
        Err(e) => println!("could not write the report to {}: {e}", dir.display()),
    }

    let failed: Vec<&str> = results
        .iter()
        .filter(|r| r.outcome.overall() == Verdict::Failed)
        .map(|r| r.id.as_str())
        .collect();
    assert!(
        failed.is_empty(),
        "{} conformance case(s) FAILED: {}\n(see the summary above)\nserver stderr:\n{}",
        failed.len(),
        failed.join(", "),
        server.stderr()
    );
}
