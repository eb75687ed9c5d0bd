//! Pusher channel webhooks to an endpoint registered through the API with `"format": "pusher"`,
//! against the real binary (two workers) and a local receiver that checks every request with
//! the Python `pusher` SDK's `validate_webhook`: the events go through the durable engine, so a
//! failed request is retried on the endpoint's schedule with the same body, both attempts are
//! in the delivery log, and a retry pending at a `kill -9` is sent by the restarted server.
//! `/metrics` counts the attempts by result and the deliveries still queued.

mod common;

use std::time::{Duration, Instant};

use common::{free_port, hook_records, http_get, signed_call, spawn_client_env, webhooks_server};
use serde_json::json;

/// The value of the sample `name` (with its labels) in a Prometheus text.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} missing from\n{text}"))
        .parse()
        .unwrap()
}

/// A receiver on a free port that answers its first request 500 and expects two, and a
/// pusher-format endpoint for `channel_occupied` pointing at it, retried once after
/// `retry_delay` seconds: the port, the receiver, the app's webhooks path and the created
/// endpoint.
fn failing_once_endpoint(
    server: &common::Server,
    retry_delay: u64,
) -> (u16, common::RunningClient, String, serde_json::Value) {
    let port = free_port();
    let port_s = port.to_string();
    let mut receiver = spawn_client_env(
        "pusher_webhook_receiver.py",
        &[&port_s, "/api=2"],
        server,
        &[("STATUSES", "500")],
    );
    receiver.wait_for_line("listening", Duration::from_secs(10));
    let hook = json!({"name": "channels", "url": format!("http://127.0.0.1:{port}/api"),
                      "events": ["channel_occupied"], "format": "pusher",
                      "retry_delays": [retry_delay]});
    let path = format!("/apps/{}/webhooks", server.app_id);
    let (status, created) = signed_call(server, "POST", &path, &hook.to_string());
    assert_eq!(status, 201, "{created}");
    (port, receiver, path, created)
}

#[test]
fn a_pusher_format_endpoint_gets_signed_channel_webhooks_retried_by_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let server = webhooks_server(dir.path());
    // The first request is answered 500: the engine retries it 1 s later.
    let (port, receiver, path, created) = failing_once_endpoint(&server, 1);
    assert_eq!(created["max_retries"], 4, "Pusher's schedule: 5 attempts");
    let id = created["id"].as_str().unwrap().to_owned();

    let channel = format!("api-hooks-{port}");
    let mut holder = spawn_client_env("hold.js", &[&channel], &server, &[("HOLD_MS", "4000")]);
    holder.wait_for_line("ready", Duration::from_secs(10));
    let out = receiver.finish();
    assert!(out.success(), "{out}");
    let records = hook_records(&out.stdout);
    assert_eq!(records.len(), 2, "{out}");
    for r in &records {
        assert_eq!(r["valid"], true, "pusher SDK refused {r}");
        assert_eq!(
            r["events"],
            json!([{"name": "channel_occupied", "channel": channel}])
        );
    }
    assert_eq!(
        (&records[0]["status"], &records[1]["status"]),
        (&json!(500), &json!(200))
    );
    assert!(holder.finish().success());

    let deadline = Instant::now() + Duration::from_secs(5);
    let log = loop {
        let (status, log) = signed_call(&server, "GET", &format!("{path}/{id}/deliveries"), "");
        assert_eq!(status, 200, "{log}");
        let items = log["deliveries"].as_array().unwrap().clone();
        if items.len() == 2 && items[0]["status"] == "delivered" {
            break items;
        }
        assert!(Instant::now() < deadline, "log never settled: {log}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        (&log[0]["status_code"], &log[1]["status_code"]),
        (&json!(200), &json!(500))
    );
    assert_eq!(
        (&log[1]["attempt"], &log[0]["attempt"]),
        (&json!(1), &json!(2))
    );
    assert_eq!(log[0]["event"], "channel_occupied");

    let (_, metrics) = http_get(server.port, "/metrics");
    let result = |r: &str| {
        sample(
            &metrics,
            &format!("ringcast_webhook_deliveries_total{{result=\"{r}\"}}"),
        )
    };
    assert_eq!(
        (result("success"), result("failure")),
        (1.0, 1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "ringcast_webhook_delivery_latency_seconds_count"),
        2.0
    );
    assert_eq!(sample(&metrics, "ringcast_webhook_breakers_open"), 0.0);
    // The gauge is recounted every second; the queue is empty once both attempts are logged.
    std::thread::sleep(Duration::from_millis(1100));
    let (_, metrics) = http_get(server.port, "/metrics");
    assert_eq!(
        sample(&metrics, "ringcast_webhook_queue_depth"),
        0.0,
        "{metrics}"
    );
}

#[test]
fn the_queue_depth_counts_deliveries_not_yet_finished() {
    let dir = tempfile::tempdir().unwrap();
    let server = webhooks_server(dir.path());
    // Nothing listens on the port: each test delivery fails with a connection error and
    // waits a minute for its retry, so it stays queued.
    let hook = json!({"name": "down", "url": format!("http://127.0.0.1:{}/x", free_port()),
                      "events": ["*"], "retry_delays": [60]});
    let path = format!("/apps/{}/webhooks", server.app_id);
    let (status, created) = signed_call(&server, "POST", &path, &hook.to_string());
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    for _ in 0..3 {
        let (status, body) = signed_call(&server, "POST", &format!("{path}/{id}/test"), "");
        assert_eq!(status, 202, "{body}");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, metrics) = http_get(server.port, "/metrics");
        let errors = "ringcast_webhook_deliveries_total{result=\"connection_error\"}";
        if sample(&metrics, errors) == 3.0
            && sample(&metrics, "ringcast_webhook_queue_depth") == 3.0
        {
            break;
        }
        assert!(Instant::now() < deadline, "{metrics}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_pending_channel_webhook_survives_a_kill_9_and_is_sent_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = webhooks_server(dir.path());
    // The first attempt is answered 500; its retry is due 3 s later, after the kill.
    let (port, receiver, path, created) = failing_once_endpoint(&server, 3);
    let log_path = format!("{path}/{}/deliveries", created["id"].as_str().unwrap());
    let channel = format!("kept-{port}");
    let mut holder = spawn_client_env("hold.js", &[&channel], &server, &[("HOLD_MS", "300")]);
    holder.wait_for_line("ready", Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, log) = signed_call(&server, "GET", &log_path, "");
        if log["deliveries"].as_array().is_some_and(|l| !l.is_empty()) {
            assert_eq!(log["deliveries"][0]["status"], "pending", "{log}");
            break;
        }
        assert!(Instant::now() < deadline, "no attempt logged: {log}");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(server); // SIGKILL: the retry is only in the store
                  // Its connection died with the server; only its exit is awaited.
    let _ = holder.finish();

    let server = webhooks_server(dir.path());
    let out = receiver.finish();
    assert!(out.success(), "{out}");
    let records = hook_records(&out.stdout);
    assert_eq!(records.len(), 2, "{out}");
    for r in &records {
        assert_eq!(r["valid"], true, "{out}");
        assert_eq!(
            r["events"],
            json!([{"name": "channel_occupied", "channel": channel}])
        );
    }
    assert_eq!(
        (&records[0]["status"], &records[1]["status"]),
        (&json!(500), &json!(200))
    );
    // The restarted server resumed the same delivery: its second attempt is in the same log.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, log) = signed_call(&server, "GET", &log_path, "");
        let items = log["deliveries"].as_array().cloned().unwrap_or_default();
        if items.len() == 2 && items[0]["status"] == "delivered" {
            assert_eq!(items[0]["delivery_id"], items[1]["delivery_id"], "{log}");
            assert_eq!(
                (&items[0]["attempt"], &items[0]["status_code"]),
                (&json!(2), &json!(200))
            );
            break;
        }
        assert!(Instant::now() < deadline, "the retry was not logged: {log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
