//! The managed-webhooks actions against the real binary and a real local receiver that checks
//! every request with the `standardwebhooks` library: `POST …/{wid}/test` sends a signed test
//! delivery, `POST …/{wid}/deliveries/{did}/retry` replays a failed one with the same
//! `webhook-id`, and unknown endpoints or deliveries answer 404 and change nothing.

mod common;

use std::time::{Duration, Instant};

use common::{spawn_client, webhooks_call as call, webhooks_server as start, Server};
use serde_json::{json, Value};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Polls the endpoint's delivery log until `done` holds for it (5 s at most).
fn log_until(server: &Server, id: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, log) = call(server, "GET", &format!("/{id}/deliveries"), "");
        assert_eq!(status, 200, "{log}");
        let items = log["deliveries"].as_array().unwrap().clone();
        if done(&items) {
            return items;
        }
        assert!(Instant::now() < deadline, "log never settled: {log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_test_delivery_is_signed_and_a_failed_one_is_replayed_with_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    // The test delivery is answered 500; with no retries it fails until replayed.
    let mut receiver = spawn_client("webhook_receiver.py", &[SECRET, "500", "2"], &server);
    let line = receiver.wait_for_line("listening ", Duration::from_secs(10));
    let url = format!("http://127.0.0.1:{}/hook", &line["listening ".len()..]);
    let hook = json!({"name": "orders", "url": url, "events": ["order.*"],
                      "secret": SECRET, "max_retries": 0});
    let (status, created) = call(&server, "POST", "", &hook.to_string());
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();

    let (status, test) = call(&server, "POST", &format!("/{id}/test"), "");
    assert_eq!(status, 202, "{test}");
    assert_eq!(
        (&test["event"], &test["status"]),
        (&json!("webhook.test"), &json!("pending"))
    );
    let did = test["delivery_id"]
        .as_str()
        .expect("a delivery id")
        .to_owned();
    let failed = log_until(&server, &id, |l| l.len() == 1 && l[0]["status"] == "failed");
    assert_eq!(
        (&failed[0]["delivery_id"], &failed[0]["status_code"]),
        (&json!(did), &json!(500))
    );

    let (status, replay) = call(
        &server,
        "POST",
        &format!("/{id}/deliveries/{did}/retry"),
        "",
    );
    assert_eq!(status, 202, "{replay}");
    assert_eq!(
        (&replay["delivery_id"], &replay["attempts"]),
        (&json!(did), &json!(0))
    );
    let log = log_until(&server, &id, |l| {
        l.len() == 2 && l[0]["status"] == "delivered"
    });
    assert_eq!(log[0]["status_code"], 200, "{log:?}");

    let got = receiver.finish().ok_json();
    let got = got.as_array().expect("a list of deliveries");
    assert_eq!(got.len(), 2, "{got:?}");
    for d in got {
        assert_eq!(
            (&d["valid"], &d["x_signature_valid"]),
            (&json!(true), &json!(true)),
            "{d}"
        );
        assert_eq!(
            (&d["type"], &d["webhook_id"]),
            (&json!("webhook.test"), &json!(did)),
            "{d}"
        );
    }
    assert_eq!(
        (&got[0]["status"], &got[1]["status"]),
        (&json!(500), &json!(200))
    );
}

#[test]
fn unknown_endpoints_and_deliveries_answer_404_and_record_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let hook = json!({"name": "x", "url": "http://127.0.0.1:9/hook", "events": ["*"]});
    let (status, created) = call(&server, "POST", "", &hook.to_string());
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let cases = [
        (
            "/ep_missing/test".to_owned(),
            "no endpoint with id 'ep_missing'",
        ),
        (
            "/ep_missing/deliveries/msg_x/retry".to_owned(),
            "no endpoint with id 'ep_missing'",
        ),
        (
            format!("/{id}/deliveries/msg_none/retry"),
            "no delivery with id 'msg_none'",
        ),
    ];
    for (rest, message) in cases {
        let (status, answer) = call(&server, "POST", &rest, "");
        assert_eq!(status, 404, "{rest}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(message),
            "{rest}: {error:?} lacks {message:?}"
        );
    }
    let (status, log) = call(&server, "GET", &format!("/{id}/deliveries"), "");
    assert_eq!((status, &log["deliveries"]), (200, &json!([])), "{log}");
}
