//! Pusher protocol microbenches: parsing the client messages pusher-js really sends, encoding a
//! channel event for a REST publish (and its frame, in place or copied), and parsing a
//! Node-SDK `POST /events` body.
//!
//! simd-json (0.17, serde API, borrowed) was measured against `parse_serde_json` on these
//! shapes in commit aef3539 and lost on all but the presence subscribe: 2.3x slower on the
//! client event (641 vs 275 ns), 3.7x on ping, and still slower with `data` skipped and the
//! mutable copy it needs left out. It has no `RawValue`, so `data` would become a DOM. Kept out.
//! Run with `cargo bench --bench pusher`.

use divan::{black_box, Bencher};
use ringcast::proto::api::{parse_event, Limits};
use ringcast::proto::pusher::{
    channel_event, channel_event_frame, parse_client_message, text_frame,
};

fn main() {
    divan::main();
}

/// What pusher-js 8 writes on the socket, byte for byte in shape and field order.
mod shapes {
    pub const PING: &str = r#"{"event":"pusher:ping","data":{}}"#;
    pub const SUBSCRIBE_PUBLIC: &str =
        r#"{"event":"pusher:subscribe","data":{"auth":"","channel":"my-channel"}}"#;
    pub const SUBSCRIBE_PRIVATE: &str = r#"{"event":"pusher:subscribe","data":{"auth":"app-key:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4","channel":"private-orders.1"}}"#;
    pub const SUBSCRIBE_PRESENCE: &str = r#"{"event":"pusher:subscribe","data":{"auth":"app-key:afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c","channel_data":"{\"user_id\":\"42\",\"user_info\":{\"name\":\"Ada Lovelace\",\"avatar\":\"https://example.com/a/42.png\"}}","channel":"presence-room.7"}}"#;
    /// A `client-*` event with ~200 bytes of data.
    pub const CLIENT_EVENT: &str = r#"{"event":"client-typing","data":{"user_id":"42","name":"Ada Lovelace","room":"general","draft":"Shall we meet at the analytical engine at noon? I'll bring the punched cards.","at":1718000000123,"seq":17},"channel":"private-chat.general"}"#;

    pub const ALL: [(&str, &str); 5] = [
        ("ping", PING),
        ("subscribe_public", SUBSCRIBE_PUBLIC),
        ("subscribe_private", SUBSCRIBE_PRIVATE),
        ("subscribe_presence", SUBSCRIBE_PRESENCE),
        ("client_event_200b", CLIENT_EVENT),
    ];
}

const SHAPES: [&str; 5] = [
    "ping",
    "subscribe_public",
    "subscribe_private",
    "subscribe_presence",
    "client_event_200b",
];

fn shape(name: &str) -> &'static str {
    shapes::ALL
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
        .unwrap_or_default()
}

/// Today's parse: serde_json, borrowed fields, client-event `data` kept as a `RawValue`.
#[divan::bench(args = SHAPES)]
fn parse_serde_json(bencher: Bencher, name: &str) {
    let text = shape(name);
    assert!(parse_client_message(text).is_ok(), "{name} must parse");
    bencher.bench(|| parse_client_message(black_box(text)).is_ok());
}

/// The fan-out encode of a REST publish: one allocation, `data` spliced in as a literal.
#[divan::bench]
fn channel_event_encode() -> String {
    channel_event(
        black_box("order.shipped"),
        black_box("private-orders.1"),
        black_box(
            r#""{\"id\":1234,\"status\":\"shipped\",\"carrier\":\"DHL\",\"eta\":\"2024-06-11\"}""#,
        ),
        None,
    )
}

const SHIPPED: &str =
    r#""{\"id\":1234,\"status\":\"shipped\",\"carrier\":\"DHL\",\"eta\":\"2024-06-11\"}""#;

/// The frame a REST publish shares with its subscribers, as the server builds it now: the
/// event's JSON written behind room for its header, one allocation.
#[divan::bench]
fn channel_event_frame_in_place() -> bytes::Bytes {
    let data = [black_box(SHIPPED)];
    channel_event_frame(
        black_box("order.shipped"),
        black_box("private-orders.1"),
        &data,
        None,
    )
}

/// The same frame as before: the event's JSON, then a frame copied from it.
#[divan::bench]
fn channel_event_then_text_frame() -> bytes::Bytes {
    let json = channel_event(
        black_box("order.shipped"),
        black_box("private-orders.1"),
        black_box(SHIPPED),
        None,
    );
    text_frame(&json)
}

/// The body the Node SDK posts for `pusher.trigger(["orders", "dashboard"], "order.shipped", …)`.
#[divan::bench]
fn rest_parse_event_node_body(bencher: Bencher) {
    let body = br#"{"name":"order.shipped","data":"{\"id\":1234,\"status\":\"shipped\",\"carrier\":\"DHL\",\"eta\":\"2024-06-11\"}","channels":["orders","dashboard"],"socket_id":"1234.5678"}"#;
    let limits = Limits::default();
    assert!(parse_event(body, &limits).is_ok());
    bencher.bench(|| parse_event(black_box(body), &limits).is_ok());
}
