//! Slow consumers and metrics: a client that stops reading is closed with 4100 once its
//! outbound queue passes the cap, while a reading neighbour gets every event; `/metrics` counts
//! it.

mod common;
#[path = "support/raw_client.rs"]
mod raw_client;

use std::time::{Duration, Instant};

use common::{http_get, http_post, signed_path, Server};
use raw_client::Subscriber;
use serde_json::json;

#[test]
fn stalled_client_is_closed_with_4100_and_the_neighbour_gets_everything() {
    let server = Server::start(&[
        ("RINGCAST_WORKERS", "2"),
        ("REVERB_APP_MAX_MESSAGE_SIZE", "100000"),
        ("REVERB_MAX_REQUEST_SIZE", "2000000"),
    ]);
    // The stalled client never reads after subscribing.
    let stalled = Subscriber::connect(server.port, "test-key", &["firehose"]);
    let mut good = Subscriber::connect(server.port, "test-key", &["firehose"]);
    let payload = "x".repeat(90_000);
    let batches = 40; // 40 × 10 events × 90 KB = 36 MB, far beyond socket buffers + the 1 MiB cap
    let reader = std::thread::spawn(move || {
        let mut seen = 0;
        while seen < batches * 10 {
            let ev = good.next_event();
            assert_eq!(ev["event"], format!("e{seen}"), "in order, nothing lost");
            seen += 1;
        }
        (seen, good)
    });
    for b in 0..batches {
        let batch: Vec<_> = (0..10)
            .map(|i| json!({"channel":"firehose","name":format!("e{}", b * 10 + i),"data":payload}))
            .collect();
        let body = json!({ "batch": batch }).to_string();
        let path = signed_path(&server, "POST", "/apps/424242/batch_events", &[], &body);
        let (status, resp) = http_post(server.port, &path, &body);
        assert_eq!(status, 200, "{resp}");
    }
    let (seen, _good) = reader.join().unwrap();
    assert_eq!(seen, batches * 10);
    // The stalled connection is gone within the close grace (2 s) after its overflow.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, metrics) = http_get(server.port, "/metrics");
        let closes: u64 = metrics
            .lines()
            .filter(|l| l.starts_with("ringcast_slow_consumer_closes_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum();
        let (_, health) = http_get(server.port, "/api/v1/websocket/health");
        if closes == 1 && health.contains(r#""connections":1"#) {
            assert!(
                metrics.contains("ringcast_errors_total{code=\"4100\"} 1"),
                "{metrics}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stalled client not closed: {health}\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(stalled);
}

#[test]
fn metrics_are_prometheus_text_with_live_numbers() {
    let server = Server::start(&[("RINGCAST_WORKERS", "2")]);
    let mut subs: Vec<Subscriber> = (0..4)
        .map(|_| Subscriber::connect(server.port, "test-key", &["m"]))
        .collect();
    let body = r#"{"name":"tick","channel":"m","data":"1"}"#;
    let path = signed_path(&server, "POST", "/apps/424242/events", &[], body);
    assert_eq!(http_post(server.port, &path, body).0, 200);
    for s in &mut subs {
        assert_eq!(s.next_event()["event"], "tick");
    }
    let (status, text) = http_get(server.port, "/metrics");
    assert_eq!(status, 200);
    let value = |prefix: &str| -> u64 {
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .map(|v| v as u64)
            .sum()
    };
    assert_eq!(value("ringcast_connections{"), 4, "{text}");
    assert_eq!(value("ringcast_app_connections{app=\"424242\"}"), 4);
    assert_eq!(value("ringcast_messages_out_total{"), 4);
    assert!(
        value("ringcast_messages_in_total{") >= 4,
        "subscribes count as messages in"
    );
    assert!(value("ringcast_delivery_latency_seconds_count") >= 1);
    assert!(text.contains("# TYPE ringcast_delivery_latency_seconds histogram"));
    assert!(text.contains("ringcast_delivery_latency_seconds_bucket{le=\"+Inf\"}"));
}
