//! Managed webhook delivery against the real binary and receivers in this process: retry
//! delays and `Retry-After` counted exactly, timeouts, refused connections, the circuit
//! breaker's pause and probe, kept-alive connections and the per-receiver bound, https with a
//! configured CA, and pending retries surviving a `kill -9`.

mod common;
#[path = "support/hook_receiver.rs"]
mod hook_receiver;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{http_post, signed_call, signed_path, Server};
use hook_receiver::{self_signed, Answer, Options, Receiver};
use serde_json::{json, Value};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One worker on `data_dir` with loopback receivers allowed and `[webhooks]` settings `extra`.
fn start(data_dir: &Path, extra: &str) -> Server {
    let toml = format!("[webhooks]\nallowed_subnets = [\"127.0.0.0/8\"]\n{extra}\n");
    let dir = data_dir.to_str().expect("utf-8 path");
    let env = [("RINGCAST_DATA_DIR", dir), ("RINGCAST_WORKERS", "1")];
    Server::start_with(&[], &env, Some(&toml))
}

/// Creates an endpoint for every event from `spec` (merged over name, events and secret).
fn endpoint(server: &Server, url: &str, spec: Value) -> String {
    let mut body = json!({"name": "hook", "url": url, "events": ["*"], "secret": SECRET});
    body.as_object_mut()
        .unwrap()
        .extend(spec.as_object().unwrap().clone());
    let path = format!("/apps/{}/webhooks", server.app_id);
    let (status, created) = signed_call(server, "POST", &path, &body.to_string());
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

/// Publishes event `name` to channel `orders`.
fn publish(server: &Server, name: &str) {
    let path = format!("/apps/{}/events", server.app_id);
    let body = json!({"name": name, "channels": ["orders"], "data": "{}"}).to_string();
    let signed = signed_path(server, "POST", &path, &[], &body);
    assert_eq!(http_post(server.port, &signed, &body).0, 200);
}

/// The endpoint's log once it has `n` attempts, oldest first.
fn attempts(server: &Server, id: &str, n: usize) -> Vec<Value> {
    let path = format!("/apps/{}/webhooks/{id}/deliveries", server.app_id);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, log) = signed_call(server, "GET", &path, "");
        assert_eq!(status, 200, "{log}");
        let mut entries = log["deliveries"].as_array().unwrap().clone();
        if entries.len() >= n {
            entries.reverse();
            return entries;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} attempts: {log}",
            entries.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn gaps(seen: &[hook_receiver::Seen]) -> Vec<Duration> {
    seen.windows(2).map(|w| w[1].at - w[0].at).collect()
}

#[test]
fn retry_after_and_one_second_retry_delays_are_counted_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "");
    let receiver = Receiver::start(Options {
        script: vec![
            Answer::status(429).header("Retry-After", "2"),
            Answer::status(500),
            Answer::status(503),
        ],
        ..Options::default()
    });
    let id = endpoint(&server, &receiver.url("http"), json!({"retry_delays": [1]}));
    publish(&server, "order.paid");
    let seen = receiver.wait_for(4, Duration::from_secs(15));
    std::thread::sleep(Duration::from_millis(1500));
    let seen_after = receiver.seen();
    assert_eq!(
        seen_after.len(),
        4,
        "nothing after the success: {seen_after:?}"
    );
    let ids: Vec<&str> = seen.iter().map(|s| s.webhook_id.as_str()).collect();
    assert!(ids.iter().all(|i| *i == ids[0] && !i.is_empty()), "{ids:?}");
    let statuses: Vec<u16> = seen.iter().map(|s| s.status).collect();
    assert_eq!(statuses, [429, 500, 503, 200]);
    let gaps = gaps(&seen);
    let secs = |d: Duration| d.as_secs_f64();
    assert!(
        (2.0..3.0).contains(&secs(gaps[0])),
        "Retry-After: 2 → {gaps:?}"
    );
    for gap in &gaps[1..] {
        assert!((1.0..2.0).contains(&secs(*gap)), "1 s delays → {gaps:?}");
    }
    let log = attempts(&server, &id, 4);
    let codes: Vec<u64> = log
        .iter()
        .map(|e| e["status_code"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, [429, 500, 503, 200]);
    let numbers: Vec<u64> = log.iter().map(|e| e["attempt"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
}

#[test]
fn a_timeout_and_a_refused_connection_are_failed_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "timeout_ms = 300");
    let slow = Receiver::start(Options {
        then: Answer::status(200).after(Duration::from_millis(1500)),
        ..Options::default()
    });
    let spec = json!({"max_retries": 1, "retry_delays": [1], "events": ["slow.*"]});
    let slow_id = endpoint(&server, &slow.url("http"), spec);
    // A port nothing listens on: bound, then closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refused_url = format!(
        "http://127.0.0.1:{}/hook",
        closed.local_addr().unwrap().port()
    );
    drop(closed);
    let spec = json!({"max_retries": 0, "events": ["refused.*"]});
    let refused_id = endpoint(&server, &refused_url, spec);
    publish(&server, "slow.paid");
    publish(&server, "refused.paid");

    let log = attempts(&server, &slow_id, 2);
    for entry in &log {
        assert_eq!(entry["status_code"], Value::Null, "{entry}");
        assert_eq!(entry["error"], "timed out", "{entry}");
        assert!(entry["latency_ms"].as_u64().unwrap() < 1000, "{entry}");
    }
    assert_eq!(log[1]["status"], "failed", "{log:?}");
    let log = attempts(&server, &refused_id, 1);
    let error = log[0]["error"].as_str().unwrap();
    assert!(error.starts_with("connection failed"), "{error}");
    assert!(error.contains("refused"), "{error}");
}

#[test]
fn the_breaker_opens_after_five_failures_and_resumes_with_one_probe() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "breaker_pause_ms = 2000");
    let receiver = Receiver::start(Options {
        script: vec![Answer::status(500); 5],
        then: Answer::status(200).after(Duration::from_millis(300)),
        ..Options::default()
    });
    let spec = json!({"max_retries": 10, "retry_delays": [1]});
    endpoint(&server, &receiver.url("http"), spec);
    publish(&server, "order.paid");
    let failures = receiver.wait_for(5, Duration::from_secs(10));
    // A second delivery falls due while the breaker is open: it waits too.
    publish(&server, "order.shipped");
    let seen = receiver.wait_for(7, Duration::from_secs(10));
    let fifth = failures[4].at;
    let probe = &seen[5];
    assert!(
        probe.at - fifth >= Duration::from_millis(2000),
        "nothing is sent while the breaker is open: {:?}",
        probe.at - fifth
    );
    assert!(
        seen[6].at >= probe.answered,
        "the probe goes alone; the rest follows its success"
    );
    std::thread::sleep(Duration::from_millis(500));
    let all = receiver.seen();
    assert_eq!(all.len(), 7, "{all:?}");
    let ids: std::collections::BTreeSet<&str> = all.iter().map(|s| s.webhook_id.as_str()).collect();
    assert_eq!(ids.len(), 2, "two deliveries: {all:?}");
}

#[test]
fn kept_alive_connections_are_reused_and_the_per_endpoint_bound_holds() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "max_per_endpoint = 2");
    let receiver = Receiver::start(Options {
        then: Answer::status(204).after(Duration::from_millis(100)),
        ..Options::default()
    });
    endpoint(&server, &receiver.url("http"), json!({}));
    for i in 0..12 {
        publish(&server, &format!("order.{i}"));
    }
    let seen = receiver.wait_for(12, Duration::from_secs(15));
    assert_eq!(receiver.max_concurrent(), 2, "bound of 2 per endpoint");
    let conns = receiver.connections();
    assert!(
        (1..12).contains(&conns),
        "{conns} connections for 12 deliveries"
    );
    let reused = seen.iter().filter(|s| s.conn == seen[0].conn).count();
    assert!(reused > 1, "{seen:?}");

    // A receiver that closes after every answer still gets everything.
    let closing = Receiver::start(Options {
        keep_alive: false,
        ..Options::default()
    });
    let spec = json!({"events": ["stock.*"]});
    endpoint(&server, &closing.url("http"), spec);
    for i in 0..3 {
        publish(&server, &format!("stock.{i}"));
    }
    closing.wait_for(3, Duration::from_secs(10));
    assert_eq!(closing.connections(), 3);
}

#[test]
fn https_receivers_are_checked_against_the_configured_ca() {
    let (ca_pem, chain, key) = self_signed();
    let ca_dir = tempfile::tempdir().unwrap();
    let ca_file = ca_dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &format!("ca_file = {:?}", ca_file.display().to_string()),
    );
    let trusted = Receiver::start(Options {
        tls: Some((chain, key)),
        ..Options::default()
    });
    endpoint(
        &server,
        &trusted.url("https"),
        json!({"events": ["order.*"]}),
    );
    let (_, other_chain, other_key) = self_signed();
    let stranger = Receiver::start(Options {
        tls: Some((other_chain, other_key)),
        ..Options::default()
    });
    let spec = json!({"events": ["stock.*"], "max_retries": 0});
    let stranger_id = endpoint(&server, &stranger.url("https"), spec);
    publish(&server, "order.paid");
    publish(&server, "order.shipped");
    publish(&server, "stock.low");
    let seen = trusted.wait_for(2, Duration::from_secs(10));
    assert!(
        seen.iter().any(|s| s.body.contains("order.paid")),
        "{seen:?}"
    );
    let log = attempts(&server, &stranger_id, 1);
    let error = log[0]["error"].as_str().unwrap();
    assert!(error.contains("TLS"), "{error}");
    assert!(
        stranger.seen().is_empty(),
        "nothing reached an untrusted receiver"
    );
}

#[test]
fn pending_retries_survive_a_kill_9_with_their_webhook_ids() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "");
    let receiver = Receiver::start(Options {
        script: vec![Answer::status(500); 3],
        ..Options::default()
    });
    let id = endpoint(&server, &receiver.url("http"), json!({"retry_delays": [2]}));
    for name in ["order.a", "order.b", "order.c"] {
        publish(&server, name);
    }
    let first = receiver.wait_for(3, Duration::from_secs(10));
    // Once the failures are recorded the retries are pending, 2 s away.
    attempts(&server, &id, 3);
    drop(server); // SIGKILL
    let server = start(dir.path(), "");
    let seen = receiver.wait_for(6, Duration::from_secs(15));
    let mut failed: Vec<&str> = first.iter().map(|s| s.webhook_id.as_str()).collect();
    let mut delivered: Vec<&str> = seen[3..]
        .iter()
        .filter(|s| s.status == 200)
        .map(|s| s.webhook_id.as_str())
        .collect();
    failed.sort_unstable();
    delivered.sort_unstable();
    assert_eq!(
        failed, delivered,
        "every delivery arrives with its webhook-id"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(receiver.count(), 6);
    drop(server);
}
