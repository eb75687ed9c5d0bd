//! Signature microbenches: a private/presence channel auth check (`verify_channel_auth`) and a
//! REST request check (`verify_request`, and `verify_signed` with the key made once, as the
//! server checks) on a query signed the way the Node SDK signs it.
//!
//! Both are HMAC-SHA256 plus hex; the REST check also sorts the parameters and MD5s the body.
//! Run with `cargo bench --bench signatures`.

use divan::{black_box, Bencher};
use ringcast::proto::api::{sign_request, verify_request, verify_signed, SigningKey};
use ringcast::proto::http::parse_query;
use ringcast::proto::pusher::{channel_auth, verify_channel_auth};

fn main() {
    divan::main();
}

const KEY: &str = "app-key";
const SECRET: &str = "7ad3773142a6692b25b8";
const SOCKET_ID: &str = "1234.1234";

#[divan::bench]
fn verify_channel_auth_private(bencher: Bencher) {
    let auth = channel_auth(KEY, SECRET, SOCKET_ID, "private-orders.1", None);
    assert!(verify_channel_auth(
        KEY,
        SECRET,
        SOCKET_ID,
        "private-orders.1",
        None,
        &auth
    ));
    bencher.bench(|| {
        verify_channel_auth(
            KEY,
            SECRET,
            black_box(SOCKET_ID),
            black_box("private-orders.1"),
            None,
            black_box(&auth),
        )
    });
}

#[divan::bench]
fn verify_channel_auth_presence(bencher: Bencher) {
    let data = r#"{"user_id":"42","user_info":{"name":"Ada Lovelace"}}"#;
    let auth = channel_auth(KEY, SECRET, SOCKET_ID, "presence-room.7", Some(data));
    assert!(verify_channel_auth(
        KEY,
        SECRET,
        SOCKET_ID,
        "presence-room.7",
        Some(data),
        &auth
    ));
    bencher.bench(|| {
        verify_channel_auth(
            KEY,
            SECRET,
            black_box(SOCKET_ID),
            black_box("presence-room.7"),
            Some(black_box(data)),
            black_box(&auth),
        )
    });
}

const EVENTS_PATH: &str = "/apps/1/events";
const EVENTS_BODY: &[u8] =
    br#"{"name":"order.shipped","data":"{\"id\":1234}","channels":["orders","dashboard"]}"#;
const NOW: u64 = 1_718_000_000;

/// The parsed query of a `POST /apps/1/events` with a Node-SDK body, signed as the SDK signs.
fn signed_events_query() -> Vec<(String, String)> {
    let query = sign_request("POST", EVENTS_PATH, &[], EVENTS_BODY, KEY, SECRET, NOW);
    parse_query(&query).expect("signed query parses")
}

/// `POST /apps/1/events` with a Node-SDK body, verified from the already-parsed query.
#[divan::bench]
fn verify_request_post_events(bencher: Bencher) {
    let params = signed_events_query();
    let check = |params: &[(String, String)], body: &[u8]| {
        verify_request("POST", EVENTS_PATH, params, body, KEY, SECRET, NOW).is_ok()
    };
    assert!(check(&params, EVENTS_BODY));
    bencher.bench(|| check(black_box(&params), black_box(EVENTS_BODY)));
}

/// The same check as the server makes it: with the app's secret made a `SigningKey` once.
#[divan::bench]
fn verify_signed_post_events(bencher: Bencher) {
    let params = signed_events_query();
    let key = SigningKey::new(SECRET);
    let check = |params: &[(String, String)], body: &[u8]| {
        verify_signed("POST", EVENTS_PATH, params, body, KEY, &key, NOW).is_ok()
    };
    assert!(check(&params, EVENTS_BODY));
    bencher.bench(|| check(black_box(&params), black_box(EVENTS_BODY)));
}
