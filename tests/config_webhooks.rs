//! Config-file Pusher channel webhooks (`REVERB_APP_WEBHOOKS`) go through the durable engine,
//! against the real binary (two workers) and a local receiver that checks every request with
//! the Python `pusher` SDK's `validate_webhook`: a failed batch is retried on the receiver's
//! schedule with the same body until it is answered 200, counted exactly; the endpoint row is
//! listed by the API but read-only; and a retry pending at a `kill -9` is sent by the restarted
//! server from its data directory.

mod common;

use std::time::{Duration, Instant};

use common::{free_port, hook_records, signed_call, spawn_client_env, RunningClient, Server};
use serde_json::{json, Value};

/// A server whose app has one config-file receiver on `port` for `channel_occupied`, retried
/// after each of `delays` seconds.
fn server_with_hook(port: u16, delays: &[u32]) -> Server {
    let hooks = json!([{"url": format!("http://127.0.0.1:{port}/cfg"),
                        "event_types": ["channel_occupied"], "retry_delays": delays}])
    .to_string();
    Server::start(&[
        ("RINGCAST_WORKERS", "2"),
        ("RINGCAST_WEBHOOKS_ALLOWED_SUBNETS", "127.0.0.0/8"),
        ("REVERB_APP_WEBHOOKS", hooks.as_str()),
    ])
}

/// The receiver on `port`, answering `statuses` to its first requests, done after `events`.
fn receiver(server: &Server, port: u16, events: usize, statuses: &str) -> RunningClient {
    let (port_s, wanted) = (port.to_string(), format!("/cfg={events}"));
    let mut r = spawn_client_env(
        "pusher_webhook_receiver.py",
        &[&port_s, &wanted],
        server,
        &[("STATUSES", statuses)],
    );
    r.wait_for_line("listening", Duration::from_secs(10));
    r
}

/// The app's only endpoint: the one the config made.
fn config_endpoint(server: &Server) -> Value {
    let path = format!("/apps/{}/webhooks", server.app_id);
    let (status, list) = signed_call(server, "GET", &path, "");
    assert_eq!(status, 200, "{list}");
    let all = list["webhooks"].as_array().expect("a list of endpoints");
    assert_eq!(all.len(), 1, "{list}");
    all[0].clone()
}

/// Polls the endpoint's delivery log until `done` accepts it (5 s at most).
fn log_until(server: &Server, id: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let path = format!("/apps/{}/webhooks/{id}/deliveries", server.app_id);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, log) = signed_call(server, "GET", &path, "");
        let items = log["deliveries"].as_array().cloned().unwrap_or_default();
        if done(&items) {
            return items;
        }
        assert!(Instant::now() < deadline, "log never settled: {log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Occupies `channel` briefly from a client.
fn occupy(server: &Server, channel: &str) -> RunningClient {
    let mut holder = spawn_client_env("hold.js", &[channel], server, &[("HOLD_MS", "300")]);
    holder.wait_for_line("ready", Duration::from_secs(10));
    holder
}

#[test]
fn a_config_hook_failing_twice_gets_the_same_signed_batch_three_times() {
    let port = free_port();
    let server = server_with_hook(port, &[1, 1]);
    let receiver = receiver(&server, port, 3, "500,503");
    let ep = config_endpoint(&server);
    let id = ep["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("cfg_"), "{ep}");
    assert_eq!(
        (&ep["format"], &ep["events"]),
        (&json!("pusher"), &json!(["channel_occupied"]))
    );
    let channel = format!("cfg-{port}");
    let holder = occupy(&server, &channel);
    let out = receiver.finish();
    let _ = holder.finish();
    assert!(out.success(), "{out}");
    let records = hook_records(&out.stdout);
    let statuses: Vec<&Value> = records.iter().map(|r| &r["status"]).collect();
    assert_eq!(statuses, [&json!(500), &json!(503), &json!(200)], "{out}");
    for r in &records {
        assert_eq!(r["valid"], true, "pusher SDK refused {r}");
        assert_eq!(
            r["events"],
            json!([{"name": "channel_occupied", "channel": channel}])
        );
        assert_eq!(r["time_ms"], records[0]["time_ms"], "another body: {out}");
    }
    let log = log_until(&server, &id, |l| {
        l.first().is_some_and(|d| d["status"] == "delivered")
    });
    let attempts: Vec<(&Value, &Value)> = log
        .iter()
        .map(|d| (&d["attempt"], &d["status_code"]))
        .collect();
    assert_eq!(
        attempts,
        [
            (&json!(3), &json!(200)),
            (&json!(2), &json!(503)),
            (&json!(1), &json!(500))
        ]
    );

    // Read-only through the API: the config file owns it.
    let path = format!("/apps/{}/webhooks/{id}", server.app_id);
    for (method, body) in [("PATCH", r#"{"is_active":false}"#), ("DELETE", "")] {
        let (status, answer) = signed_call(&server, method, &path, body);
        assert_eq!(status, 409, "{method}: {answer}");
        assert!(answer.to_string().contains("read-only here"), "{answer}");
    }
    assert_eq!(config_endpoint(&server)["is_active"], true);
}

#[test]
fn a_pending_config_hook_retry_survives_a_kill_9() {
    let port = free_port();
    // The first attempt is answered 500; its retry is due 3 s later, after the kill.
    let server = server_with_hook(port, &[3]);
    let receiver = receiver(&server, port, 2, "500");
    let id = config_endpoint(&server)["id"].as_str().unwrap().to_owned();
    let channel = format!("kept-{port}");
    let holder = occupy(&server, &channel);
    log_until(&server, &id, |l| {
        l.first().is_some_and(|d| d["status"] == "pending")
    });
    // SIGKILL: the retry is only in the store. The client's connection dies with the server.
    let server = server.kill9_and_restart();
    let _ = holder.finish();
    assert_eq!(
        config_endpoint(&server)["id"],
        json!(id),
        "the same entry keeps its row across a restart"
    );
    let out = receiver.finish();
    assert!(out.success(), "{out}");
    let records = hook_records(&out.stdout);
    assert_eq!(records.len(), 2, "{out}");
    assert_eq!(
        (&records[0]["status"], &records[1]["status"]),
        (&json!(500), &json!(200))
    );
    for r in &records {
        assert_eq!(r["valid"], true, "{out}");
        assert_eq!(
            r["events"],
            json!([{"name": "channel_occupied", "channel": channel}])
        );
    }
    let log = log_until(&server, &id, |l| {
        l.first().is_some_and(|d| d["status"] == "delivered")
    });
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0]["delivery_id"], log[1]["delivery_id"], "{log:?}");
    assert_eq!(
        (&log[0]["attempt"], &log[0]["status_code"]),
        (&json!(2), &json!(200))
    );
}
