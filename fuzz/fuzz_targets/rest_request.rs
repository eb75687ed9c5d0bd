//! Fuzzes the REST request path: `proto::http::parse_query`, `proto::api::verify_request` and
//! the `events` / `batch_events` body parsers, on arbitrary query strings and bodies.
//!
//! Input layout: everything before the first NUL byte is the query string, the rest the body.
//! Beyond "never panics": a request signed by `sign_request` (what the SDKs do) over the
//! fuzzed parameters and body must verify, and every event the body parsers accept must splice
//! into a channel event that is valid JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringcast::proto::api::{parse_batch, parse_event, sign_request, verify_request, Limits};
use ringcast::proto::http::parse_query;
use ringcast::proto::pusher::channel_event;

const KEY: &str = "app-key";
const SECRET: &str = "app-secret";
const NOW: u64 = 1_700_000_000;
const PATH: &str = "/apps/424242/events";

fuzz_target!(|data: &[u8]| {
    let (query, body) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let query = String::from_utf8_lossy(query);
    if let Ok(params) = parse_query(&query) {
        // An attacker's request: any outcome but a panic is fine.
        for method in ["GET", "POST"] {
            let _ = verify_request(method, PATH, &params, body, KEY, SECRET, NOW);
        }
        // An SDK's request: signing the same parameters and body must verify.
        let signed = sign_request("POST", PATH, &params, body, KEY, SECRET, NOW);
        let reparsed = parse_query(&signed).expect("sign_request output must parse");
        if let Err(e) = verify_request("POST", PATH, &reparsed, body, KEY, SECRET, NOW + 5) {
            panic!("signed request refused ({e:?}): {signed}");
        }
    }
    let limits = Limits::default();
    if let Ok(event) = parse_event(body, &limits) {
        check_event(&event.name, &event.channels, &event.data_literal);
    }
    if let Ok(batch) = parse_batch(body, &limits) {
        assert!(!batch.is_empty() && batch.len() <= limits.max_batch);
        for event in &batch {
            check_event(&event.name, &event.channels, &event.data_literal);
        }
    }
});

fn check_event(name: &str, channels: &[String], data_literal: &str) {
    assert!(!channels.is_empty(), "event accepted without a channel");
    let frame = channel_event(name, &channels[0], data_literal, None);
    if let Err(e) = serde_json::from_str::<&serde_json::value::RawValue>(&frame) {
        panic!("accepted event makes invalid JSON ({e}): {frame}");
    }
}
