//! The managed-webhooks API against the real binary (two workers): create, list, show, patch
//! and delete through the Node SDK's signed `get`/`post` and signed raw requests, every
//! refusal with its status and message and the store unchanged after it, the endpoints
//! surviving a restart and a `kill -9` on the same data directory, and published events
//! delivered to a local receiver that checks them with the `standardwebhooks` library.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{http_request, run_client, signed_path, spawn_client, Server};
use common::{webhooks_call as call, webhooks_server as start};
use serde_json::{json, Value};

/// The Node SDK's `get`/`post` on `path` (relative to the app): (status, body).
fn sdk(server: &Server, method: &str, path: &str, json: &Value) -> (u16, Value) {
    let arg = json.to_string();
    let out = run_client("webhooks_sdk.js", &[method, path, &arg], server).ok_json();
    let status = out["status"].as_u64().expect("status") as u16;
    (status, out["body"].clone())
}

fn listing(server: &Server) -> Value {
    let (status, body) = call(server, "GET", "", "");
    assert_eq!(status, 200, "{body}");
    body
}

fn order_hook(name: &str, port: u16) -> Value {
    json!({"name": name, "url": format!("http://127.0.0.1:{port}/hook"), "events": ["order.*"]})
}

#[test]
fn endpoints_are_created_listed_shown_patched_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let (status, created) = sdk(&server, "post", "/webhooks", &order_hook("orders", 9001));
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("an id").to_owned();
    let secret = created["secret"].as_str().expect("the secret");
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{secret}"
    );
    assert_eq!(created["max_retries"], 5);
    assert_eq!(created["retry_delays"], json!([60, 300, 900, 3600, 7200]));
    let own = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let mut second = order_hook("stock", 9002);
    second["events"] = json!(["inventory.*", "order.paid"]);
    second["secret"] = json!(own);
    let (status, body) = sdk(&server, "post", "/webhooks", &second);
    assert_eq!(
        (status, body["secret"].as_str()),
        (201, Some(own)),
        "{body}"
    );

    let (status, list) = sdk(&server, "get", "/webhooks", &json!({}));
    assert_eq!(status, 200, "{list}");
    let names: Vec<&str> = list["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["orders", "stock"]);
    assert!(list["webhooks"][0].get("secret").is_none(), "{list}");

    // Each request is a new connection, so these land on both workers.
    for _ in 0..4 {
        let (status, shown) = call(&server, "GET", &format!("/{id}"), "");
        assert_eq!(
            (status, shown["url"].as_str()),
            (200, Some("http://127.0.0.1:9001/hook"))
        );
    }
    let patch = json!({"name": "orders-v2", "events": ["order.paid"], "rate_limit_per_s": 10});
    let (status, patched) = call(&server, "PATCH", &format!("/{id}"), &patch.to_string());
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["name"], "orders-v2");
    assert_eq!(patched["events"], json!(["order.paid"]));
    assert_eq!(patched["rate_limit_per_s"], 10);
    assert_eq!(patched["url"], created["url"]);
    assert!(patched["updated_at_ms"].as_i64() >= created["updated_at_ms"].as_i64());

    let (status, log) = call(&server, "GET", &format!("/{id}/deliveries?limit=10"), "");
    assert_eq!((status, &log["deliveries"]), (200, &json!([])), "{log}");
    let (status, stats) = call(&server, "GET", "/stats", "");
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["endpoints"].as_array().unwrap().len(), 2, "{stats}");
    assert_eq!(stats["endpoints"][0]["breaker"], "closed");
    assert_eq!(stats["failing"], json!([]));

    let (status, _) = call(&server, "DELETE", &format!("/{id}"), "");
    assert_eq!(status, 204);
    let (status, gone) = call(&server, "GET", &format!("/{id}"), "");
    assert_eq!(status, 404, "{gone}");
    assert_eq!(listing(&server)["webhooks"].as_array().unwrap().len(), 1);
}

#[test]
fn every_refusal_has_its_status_and_message_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let (status, created) = call(&server, "POST", "", &order_hook("base", 9003).to_string());
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let before = listing(&server);
    let long_url = format!("http://127.0.0.1/{}", "a".repeat(3000));
    let with = |field: &str, value: Value| {
        let mut body = order_hook("x", 9004);
        body[field] = value;
        body.to_string()
    };
    let cases: Vec<(&str, String, String, u16, &str)> = vec![
        (
            "POST",
            String::new(),
            "{not json".into(),
            400,
            "not a JSON object",
        ),
        (
            "POST",
            String::new(),
            with("colour", json!("red")),
            400,
            "unknown field \"colour\"",
        ),
        (
            "POST",
            String::new(),
            r#"{"name":"x","events":["a"]}"#.into(),
            400,
            "\"url\" field",
        ),
        (
            "POST",
            String::new(),
            with("url", json!("http://10.0.0.7/x")),
            422,
            "private-network",
        ),
        (
            "POST",
            String::new(),
            with("url", json!("http://169.254.169.254/")),
            422,
            "link-local",
        ),
        (
            "POST",
            String::new(),
            with("url", json!(long_url)),
            422,
            "the limit is 2048",
        ),
        (
            "POST",
            String::new(),
            with("events", json!(["order.**"])),
            422,
            "event pattern 'order.**' is invalid",
        ),
        (
            "POST",
            String::new(),
            with("max_retries", json!(99)),
            422,
            "max_retries must be",
        ),
        (
            "GET",
            "/ep_missing".into(),
            String::new(),
            404,
            "no endpoint with id 'ep_missing'",
        ),
        (
            "PATCH",
            "/ep_missing".into(),
            r#"{"name":"y"}"#.into(),
            404,
            "no endpoint",
        ),
        (
            "DELETE",
            "/ep_missing".into(),
            String::new(),
            404,
            "no endpoint",
        ),
        (
            "GET",
            "/ep_missing/deliveries".into(),
            String::new(),
            404,
            "no endpoint",
        ),
        (
            "PATCH",
            format!("/{id}"),
            "{}".into(),
            400,
            "changes nothing",
        ),
        (
            "PATCH",
            format!("/{id}"),
            r#"{"url":"http://192.168.1.1/"}"#.into(),
            422,
            "private-network",
        ),
        (
            "PATCH",
            format!("/{id}"),
            r#"{"format":"pusher"}"#.into(),
            422,
            "pusher-format endpoint",
        ),
        (
            "PATCH",
            format!("/{id}"),
            r#"{"name":null}"#.into(),
            422,
            "name must be",
        ),
        (
            "PATCH",
            format!("/{id}"),
            "{not json".into(),
            400,
            "not a JSON object",
        ),
        (
            "PATCH",
            format!("/{id}"),
            r#"{"events":["order.**"]}"#.into(),
            422,
            "event pattern 'order.**' is invalid",
        ),
        (
            "PATCH",
            format!("/{id}"),
            json!({ "url": long_url }).to_string(),
            422,
            "the limit is 2048",
        ),
        (
            "POST",
            format!("/{id}/test/extra"),
            String::new(),
            404,
            "no webhooks route for POST",
        ),
        (
            "GET",
            format!("/{id}/deliveries?limit=0"),
            String::new(),
            400,
            "limit must be",
        ),
    ];
    for (method, rest, body, want, message) in cases {
        let (status, answer) = call(&server, method, &rest, &body);
        let error = answer["error"].as_str().unwrap_or_default();
        assert_eq!(status, want, "{method} {rest} {body}: {answer}");
        assert!(
            error.contains(message),
            "{method} {rest}: {error:?} lacks {message:?}"
        );
        assert_eq!(
            listing(&server),
            before,
            "{method} {rest} changed the store"
        );
    }
    let (status, answer) = sdk(&server, "post", "/webhooks", &json!({"name": "x"}));
    assert_eq!(status, 400, "{answer}");
    assert_eq!(listing(&server), before);
}

fn wait_exit(server: &mut Server) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while server.exited().is_none() {
        assert!(
            Instant::now() < deadline,
            "ringcast did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn endpoints_survive_a_restart_and_a_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path());
    let (status, first) = call(&server, "POST", "", &order_hook("first", 9005).to_string());
    assert_eq!(status, 201, "{first}");
    let status = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    wait_exit(&mut server);
    drop(server);

    let server = start(dir.path());
    let (status, shown) = call(
        &server,
        "GET",
        &format!("/{}", first["id"].as_str().unwrap()),
        "",
    );
    assert_eq!((status, &shown["name"]), (200, &json!("first")), "{shown}");
    let (status, second) = call(&server, "POST", "", &order_hook("second", 9006).to_string());
    assert_eq!(status, 201, "{second}");
    let patch = r#"{"is_active":false}"#;
    let (status, _) = call(
        &server,
        "PATCH",
        &format!("/{}", first["id"].as_str().unwrap()),
        patch,
    );
    assert_eq!(status, 200);
    let before = listing(&server);
    drop(server); // SIGKILL: no shutdown, no checkpoint

    let server = start(dir.path());
    let after = listing(&server);
    assert_eq!(after, before);
    assert_eq!(after["webhooks"][0]["is_active"], false);
    assert_eq!(after["webhooks"].as_array().unwrap().len(), 2);
}

/// A signed POST of `body` to `/apps/{id}/{endpoint}` (events, batch_events).
fn publish(server: &Server, endpoint: &str, body: &Value) -> u16 {
    let path = format!("/apps/{}/{endpoint}", server.app_id);
    let body = body.to_string();
    let signed = signed_path(server, "POST", &path, &[], &body);
    let headers = [("Content-Type", "application/json")];
    http_request(server.port, "POST", &signed, &headers, body.as_bytes()).0
}

#[test]
fn published_events_are_delivered_signed_and_retried_with_the_same_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    // The first delivery is answered 500, so it is retried (after 1 s).
    let mut receiver = spawn_client("webhook_receiver.py", &[secret, "500", "3"], &server);
    let line = receiver.wait_for_line("listening ", Duration::from_secs(10));
    let url = format!("http://127.0.0.1:{}/hook", &line["listening ".len()..]);
    let orders = json!({"name": "orders", "url": url, "events": ["order.*"],
                        "secret": secret, "retry_delays": [1]});
    let (status, created) = call(&server, "POST", "", &orders.to_string());
    assert_eq!(status, 201, "{created}");
    let stock = json!({"name": "stock", "url": url, "events": ["inventory.*"], "secret": secret});
    assert_eq!(call(&server, "POST", "", &stock.to_string()).0, 201);

    let paid = json!({"name": "order.paid", "channels": ["orders"], "data": "{\"total\":5}"});
    assert_eq!(publish(&server, "events", &paid), 200);
    let other = json!({"name": "user.signed_up", "channels": ["users"], "data": "x"});
    assert_eq!(publish(&server, "events", &other), 200);
    let batch = json!({"batch": [{"name": "order.shipped", "channel": "orders", "data": "plain"}]});
    assert_eq!(publish(&server, "batch_events", &batch), 200);

    let got = receiver.finish().ok_json();
    let got = got.as_array().expect("a list of deliveries");
    assert_eq!(got.len(), 3, "{got:?}");
    for d in got {
        assert_eq!(
            (&d["valid"], &d["x_signature_valid"]),
            (&json!(true), &json!(true)),
            "{d}"
        );
    }
    let paid: Vec<&Value> = got.iter().filter(|d| d["type"] == "order.paid").collect();
    assert_eq!(paid.len(), 2, "{got:?}");
    assert_eq!(
        paid[0]["webhook_id"], paid[1]["webhook_id"],
        "a retry keeps its webhook-id"
    );
    assert_eq!(
        (&paid[0]["status"], &paid[1]["status"]),
        (&json!(500), &json!(200))
    );
    assert_eq!(
        paid[0]["data"],
        json!({"channels": ["orders"], "event": "order.paid", "payload": {"total": 5}})
    );
    let shipped: Vec<&Value> = got
        .iter()
        .filter(|d| d["type"] == "order.shipped")
        .collect();
    assert_eq!(shipped.len(), 1, "{got:?}");
    assert_eq!(shipped[0]["data"]["payload"], "plain");

    // The outcome of the last attempt is written just after the receiver answered.
    let id = created["id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let log = loop {
        let (status, log) = call(&server, "GET", &format!("/{id}/deliveries"), "");
        assert_eq!(status, 200, "{log}");
        if log["deliveries"].as_array().unwrap().len() == 3 || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut codes: Vec<u64> = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status_code"].as_u64().unwrap())
        .collect();
    codes.sort_unstable();
    assert_eq!(codes, [200, 200, 500], "{log}");
}

#[test]
fn a_receiver_answering_410_disables_its_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let mut receiver = spawn_client("webhook_receiver.py", &[secret, "410", "1"], &server);
    let line = receiver.wait_for_line("listening ", Duration::from_secs(10));
    let url = format!("http://127.0.0.1:{}/hook", &line["listening ".len()..]);
    let hook = json!({"name": "gone", "url": url, "events": ["*"], "secret": secret});
    let (status, created) = call(&server, "POST", "", &hook.to_string());
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let event = json!({"name": "order.paid", "channels": ["orders"], "data": "{}"});
    assert_eq!(publish(&server, "events", &event), 200);
    let got = receiver.finish().ok_json();
    assert_eq!(got[0]["status"], 410, "{got}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, shown) = call(&server, "GET", &format!("/{id}"), "");
        assert_eq!(status, 200, "{shown}");
        if shown["is_active"] == false {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still active after a 410: {shown}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, stats) = call(&server, "GET", "/stats", "");
    assert_eq!(stats["endpoints"][0]["attempts"], 1, "{stats}");
    assert_eq!(stats["endpoints"][0]["successes"], 0, "{stats}");
    // A disabled endpoint gets nothing more: the log keeps its one attempt.
    assert_eq!(publish(&server, "events", &event), 200);
    // Three polls of the delivery loop (every 100 ms).
    std::thread::sleep(Duration::from_millis(300));
    let (_, log) = call(&server, "GET", &format!("/{id}/deliveries"), "");
    assert_eq!(log["deliveries"].as_array().unwrap().len(), 1, "{log}");
}
