//! The notification scheduler against the real binary: every validation error with its status,
//! idempotent creates, cancel (and cancel after delivery), due-time order within a channel, a
//! Laravel Echo `.notification()` listener, `kill -9` with 10,000 pending notifications followed
//! by a restart on the same data directory (each delivered exactly once, counted by id), a real
//! delivery failure retried then failed, quiet hours in three zones across DST, and a batch
//! answered per item with the list paged by user.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{http_get, signed_call, spawn_client, spawn_client_env, Server};
use jiff::Timestamp;
use serde_json::{json, Value};

/// Laravel's broadcast notification event.
const LARAVEL_EVENT: &str = r"Illuminate\Notifications\Events\BroadcastNotificationCreated";

fn start(data_dir: &Path, extra: &[(&str, &str)]) -> Server {
    let mut env = vec![
        ("RINGCAST_WORKERS", "2"),
        ("RINGCAST_DATA_DIR", data_dir.to_str().expect("utf-8 path")),
        // Room for a full batch of 1,000 notifications.
        ("REVERB_MAX_REQUEST_SIZE", "1000000"),
    ];
    env.extend_from_slice(extra);
    Server::start(&env)
}

/// A signed request to `/apps/{id}/notifications{rest}`: (status, parsed body or Null).
fn call(server: &Server, method: &str, rest: &str, body: &str) -> (u16, Value) {
    let path = format!("/apps/{}/notifications{rest}", server.app_id);
    signed_call(server, method, &path, body)
}

/// RFC 3339 for `ms` milliseconds from now.
fn in_ms(ms: i64) -> String {
    Timestamp::from_millisecond(Timestamp::now().as_millisecond() + ms)
        .unwrap()
        .to_string()
}

/// A notification for `channel` due in `ms`, outside any quiet hours.
fn soon(channel: &str, ms: i64) -> Value {
    json!({
        "channel": channel,
        "event": "reminder",
        "data": {"text": "hi"},
        "scheduled_at": in_ms(ms),
        "respect_quiet_hours": false,
    })
}

/// Polls GET until the notification has `status` (panics after `within`).
fn wait_status(server: &Server, id: &str, status: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (code, body) = call(server, "GET", &format!("/{id}"), "");
        assert_eq!(code, 200, "{body}");
        if body["status"] == status {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{id} is not {status} within {within:?}: {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn each_validation_error_has_its_own_answer() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let ok = soon("private-notification.1", 60_000);
    let with = |key: &str, value: Value| {
        let mut body = ok.clone();
        body[key] = value;
        body.to_string()
    };
    let without = |key: &str| {
        let mut body = ok.clone();
        body.as_object_mut().unwrap().remove(key);
        body.to_string()
    };
    let cases: Vec<(String, u16, &str)> = vec![
        ("{not json".into(), 400, "JSON"),
        (without("channel"), 400, "user_id"),
        (with("user_id", json!(7)), 400, "both"),
        (with("scheduled_at", json!(in_ms(-1_000))), 422, "future"),
        (with("scheduled_at", json!("tomorrow")), 400, "RFC 3339"),
        (without("scheduled_at"), 400, "scheduled_at"),
        (with("timezone", json!("Mars/Olympus")), 400, "time zone"),
        (without("data"), 400, "data"),
        (with("channel", json!("bad channel!")), 400, "channel"),
        (with("event", json!("")), 400, "event"),
    ];
    for (body, status, needle) in cases {
        let (code, answer) = call(&server, "POST", "", &body);
        let message = answer["error"].as_str().unwrap_or_default();
        assert_eq!(code, status, "{body} -> {answer}");
        assert!(
            message.to_lowercase().contains(&needle.to_lowercase()),
            "{body}: '{message}' should mention {needle}"
        );
    }
    let too_many: Vec<Value> = (0..1_001).map(|_| ok.clone()).collect();
    let (code, _) = call(
        &server,
        "POST",
        "/batch",
        &json!({ "batch": too_many }).to_string(),
    );
    assert_eq!(code, 400);
    let (code, _) = call(&server, "POST", "/batch", r#"{"batch":[]}"#);
    assert_eq!(code, 400);
    let (code, _) = call(&server, "GET", "/ntf_nope", "");
    assert_eq!(code, 404);
    let (code, _) = call(&server, "GET", "?status=sent", "");
    assert_eq!(code, 400);
    let (code, _) = call(&server, "GET", "?cursor=abc", "");
    assert_eq!(code, 400);
    // Nothing was stored by any refusal.
    let (code, list) = call(&server, "GET", "", "");
    assert_eq!(code, 200, "{list}");
    assert_eq!(list["notifications"], json!([]));
}

#[test]
fn create_is_idempotent_and_only_a_pending_one_can_be_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let mut keyed = soon("private-notification.5", 60_000);
    keyed["id"] = json!("order-1-paid");
    let (code, first) = call(&server, "POST", "", &keyed.to_string());
    assert_eq!(code, 201, "{first}");
    assert_eq!(first["status"], "pending");
    keyed["scheduled_at"] = json!(in_ms(120_000));
    let (code, again) = call(&server, "POST", "", &keyed.to_string());
    assert_eq!((code, &again), (201, &first), "a repeat answers the first");
    let (_, list) = call(&server, "GET", "?status=pending", "");
    assert_eq!(list["notifications"].as_array().unwrap().len(), 1, "{list}");

    // Quiet hours move a 23:00 UTC notification to 08:00 the next morning.
    let late = jiff::civil::date(2099, 6, 1).at(23, 0, 0, 0);
    let quiet =
        json!({"user_id": 5, "data": {}, "scheduled_at": format!("{late}Z"), "timezone": "UTC"});
    let (code, moved) = call(&server, "POST", "", &quiet.to_string());
    assert_eq!(code, 201, "{moved}");
    assert_eq!(moved["deliver_at"], "2099-06-02T08:00:00Z");

    let id = first["id"].as_str().unwrap();
    let (code, cancelled) = call(&server, "DELETE", &format!("/{id}"), "");
    assert_eq!((code, &cancelled["status"]), (200, &json!("cancelled")));
    let (code, _) = call(&server, "DELETE", &format!("/{id}"), "");
    assert_eq!(code, 409);
    wait_status(&server, id, "cancelled", Duration::ZERO);

    let (code, due) = call(
        &server,
        "POST",
        "",
        &soon("private-notification.5", 300).to_string(),
    );
    assert_eq!(code, 201, "{due}");
    let id = due["id"].as_str().unwrap();
    let shown = wait_status(&server, id, "delivered", Duration::from_secs(5));
    assert!(shown["delivered_at"].is_string(), "{shown}");
    assert_eq!(shown["attempts"], 1);
    let (code, refused) = call(&server, "DELETE", &format!("/{id}"), "");
    assert_eq!(code, 409, "{refused}");
    assert!(refused["error"]
        .as_str()
        .unwrap()
        .contains("already delivered"));

    let (_, metrics) = http_get(server.port, "/metrics");
    for line in [
        "ringcast_notifications_delivered_total 1",
        "ringcast_notifications_failed_total 0",
        "ringcast_notification_lateness_seconds_count 1",
        "ringcast_notifications_pending{app=",
    ] {
        assert!(metrics.contains(line), "no {line:?} in\n{metrics}");
    }
}

#[test]
fn laravel_echo_receives_a_notification_scheduled_two_seconds_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let template = (
        "REVERB_APP_NOTIFICATION_CHANNEL",
        "private-App.Models.User.{user_id}",
    );
    let server = start(dir.path(), &[template]);
    let mut echo = spawn_client("echo_notification.js", &["42"], &server);
    echo.wait_for_line("ready", Duration::from_secs(15));
    let body = json!({
        "user_id": 42,
        "data": {"type": "App.Notifications.InvoicePaid", "invoice": 7},
        "scheduled_at": in_ms(2_000),
        "respect_quiet_hours": false,
    });
    let asked = Instant::now();
    let (code, created) = call(&server, "POST", "", &body.to_string());
    assert_eq!(code, 201, "{created}");
    let line = echo.wait_for_line("ok ", Duration::from_secs(10));
    let waited = asked.elapsed();
    assert!(waited >= Duration::from_millis(1_900), "early: {waited:?}");
    let got: Value = serde_json::from_str(&line["ok ".len()..]).unwrap();
    assert_eq!(got["id"], created["id"]);
    assert_eq!(got["type"], "App.Notifications.InvoicePaid");
    assert_eq!(got["invoice"], 7);
    echo.finish().assert_ok();
    let id = created["id"].as_str().unwrap();
    let shown = wait_status(&server, id, "delivered", Duration::from_secs(2));
    assert_eq!(shown["event"], LARAVEL_EVENT);
    assert_eq!(shown["channel"], "private-App.Models.User.42");
}

/// The ids `notifications_wait.js` received, in arrival order.
fn received_ids(out: common::ClientOutput) -> Vec<String> {
    let ok = out.assert_ok().ok_line().unwrap()["ok ".len()..].to_owned();
    let ids: Vec<String> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("ids "))
        .flat_map(|chunk| serde_json::from_str::<Vec<String>>(chunk).unwrap())
        .collect();
    assert_eq!(ids.len().to_string(), ok, "every id line arrived");
    ids
}

/// Creates `items` through the batch API; returns their ids in request order.
fn schedule(server: &Server, items: &[Value]) -> Vec<String> {
    let mut ids = Vec::with_capacity(items.len());
    for chunk in items.chunks(1_000) {
        let (code, answer) = call(
            server,
            "POST",
            "/batch",
            &json!({ "batch": chunk }).to_string(),
        );
        assert_eq!(code, 201, "{answer}");
        for r in answer["results"].as_array().unwrap() {
            ids.push(r["id"].as_str().expect("created").to_owned());
        }
    }
    ids
}

#[test]
fn a_channel_receives_its_notifications_in_due_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let channel = "private-notification.order";
    let mut client = spawn_client(
        "notifications_wait.js",
        &[channel, "reminder", "40", "300"],
        &server,
    );
    client.wait_for_line("ready", Duration::from_secs(15));
    // Created latest-due first, a few milliseconds apart.
    let items: Vec<Value> = (0..40)
        .map(|i| soon(channel, 1_500 + (40 - i) * 7))
        .collect();
    let mut ids = schedule(&server, &items);
    ids.reverse();
    let got = received_ids(client.finish());
    assert_eq!(got, ids, "arrival order must be due order");
}

/// `kill -9` with 10,000 notifications pending, then a restart on the same store: a pusher-js
/// client receives each exactly once, in due order, counted by id.
#[test]
fn kill_9_with_pending_notifications_then_restart_delivers_each_exactly_once() {
    const N: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let channel = "private-notification.crash";
    let server = start(dir.path(), &[]);
    // Due from 30 s on, four per millisecond: after scheduling (up to 20 s in a debug build on
    // a busy machine), the restart and the client's subscription.
    let first_due = Instant::now() + Duration::from_secs(30);
    let items: Vec<Value> = (0..N as i64)
        .map(|i| soon(channel, 30_000 + i / 4))
        .collect();
    let ids = schedule(&server, &items);
    drop(server); // SIGKILL: no shutdown
    let server = start(dir.path(), &[]);
    // The client lives at most 30 s: start it 10 s before the first due time.
    let spawn_at = first_due - Duration::from_secs(10);
    std::thread::sleep(spawn_at.saturating_duration_since(Instant::now()));
    let count = N.to_string();
    let timeout = [("CLIENT_TIMEOUT_MS", "30000")];
    let mut client = spawn_client_env(
        "notifications_wait.js",
        &[channel, "reminder", &count, "1500"],
        &server,
        &timeout,
    );
    client.wait_for_line("ready", Duration::from_secs(10));
    assert!(
        Instant::now() < first_due,
        "the machine is too slow for this test: the client subscribed after the first due time"
    );
    let got = received_ids(client.finish());
    assert_eq!(got.len(), N, "each exactly once");
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), N, "no repeats");
    assert_eq!(got, ids, "in due order");
    let (_, pending) = call(&server, "GET", "?status=pending&limit=1", "");
    assert_eq!(pending["notifications"], json!([]), "{pending}");
}

/// A real delivery failure: the app was removed from the configuration between runs. The
/// notification is retried (1 s, 2 s, 4 s, 8 s), then marked failed with the reason, which
/// shows once the app is back.
#[test]
fn a_notification_whose_app_is_gone_is_retried_then_failed_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let (code, created) = call(
        &server,
        "POST",
        "",
        &soon("private-notification.gone", 1_000).to_string(),
    );
    assert_eq!(code, 201, "{created}");
    drop(server);
    let other = start(dir.path(), &[("REVERB_APP_ID", "another-app")]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, metrics) = http_get(other.port, "/metrics");
        if metrics.contains("ringcast_notifications_failed_total 1") {
            assert!(
                metrics.contains("ringcast_notifications_delivered_total 0"),
                "{metrics}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "never failed:\n{metrics}");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(other);
    let server = start(dir.path(), &[]);
    let id = created["id"].as_str().unwrap();
    let shown = wait_status(&server, id, "failed", Duration::ZERO);
    assert_eq!(shown["attempts"], 5, "{shown}");
    let reason = shown["last_error"].as_str().unwrap_or_default();
    assert!(
        reason.contains("gave up after 5 attempts") && reason.contains("no longer configured"),
        "{shown}"
    );
    assert!(shown["delivered_at"].is_null(), "{shown}");
}

/// Quiet hours through the API in Berlin, New York and Sydney, across both DST transitions of
/// each, including a window end in a skipped hour and in a repeated hour: the 201's
/// `deliver_at` (and the GET view) show the moved time.
#[test]
fn quiet_hours_move_deliver_at_in_three_zones_across_dst() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let default = None;
    let cases = [
        // Berlin: spring forward 2027-03-28, fall back 2027-10-31; 22:00-08:00.
        (
            "Europe/Berlin",
            default,
            "2027-03-27T23:00:00+01:00",
            "2027-03-28T08:00:00+02:00",
        ),
        (
            "Europe/Berlin",
            default,
            "2027-10-30T23:00:00+02:00",
            "2027-10-31T08:00:00+01:00",
        ),
        // New York 2027-03-14: 02:30 does not exist; the end moves to the end of the gap.
        (
            "America/New_York",
            Some(("22:00", "02:30")),
            "2027-03-13T23:00:00-05:00",
            "2027-03-14T03:00:00-04:00",
        ),
        // New York 2027-11-07: 01:30 happens twice; the earlier one ends the window.
        (
            "America/New_York",
            Some(("22:00", "01:30")),
            "2027-11-06T23:00:00-04:00",
            "2027-11-07T01:30:00-04:00",
        ),
        // Sydney: fall back 2027-04-04, spring forward 2027-10-03.
        (
            "Australia/Sydney",
            default,
            "2027-04-03T23:00:00+11:00",
            "2027-04-04T08:00:00+10:00",
        ),
        (
            "Australia/Sydney",
            default,
            "2027-10-02T23:00:00+10:00",
            "2027-10-03T08:00:00+11:00",
        ),
        // Outside the window nothing moves.
        (
            "Australia/Sydney",
            default,
            "2027-10-02T12:00:00+10:00",
            "2027-10-02T12:00:00+10:00",
        ),
    ];
    for (zone, window, scheduled, expected) in cases {
        let mut body = json!({
            "user_id": 8, "data": {}, "scheduled_at": scheduled, "timezone": zone,
        });
        if let Some((start, end)) = window {
            body["quiet_hours"] = json!({"start": start, "end": end});
        }
        let (code, created) = call(&server, "POST", "", &body.to_string());
        assert_eq!(code, 201, "{created}");
        let at = |v: &Value| v.as_str().unwrap().parse::<Timestamp>().unwrap();
        let expected: Timestamp = expected.parse().unwrap();
        assert_eq!(
            at(&created["deliver_at"]),
            expected,
            "{zone} {scheduled}: {created}"
        );
        assert_eq!(at(&created["scheduled_at"]), scheduled.parse().unwrap());
        let id = created["id"].as_str().unwrap();
        let shown = wait_status(&server, id, "pending", Duration::ZERO);
        assert_eq!(at(&shown["deliver_at"]), expected, "{shown}");
    }
    // The pending gauge is recounted every 5 s.
    let gauge = format!(
        "ringcast_notifications_pending{{app=\"{}\"}} {}",
        server.app_id,
        cases.len()
    );
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let (_, metrics) = http_get(server.port, "/metrics");
        if metrics.contains(&gauge) {
            break;
        }
        assert!(Instant::now() < deadline, "no {gauge:?} in\n{metrics}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Notifications already claimed (leased) when the server dies, and overdue by the restart, go
/// out as soon as it is back instead of waiting for the old lease.
#[test]
fn overdue_leased_notifications_go_out_at_once_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let items: Vec<Value> = (0..20)
        .map(|i| soon("private-notification.late", 1_200 + i))
        .collect();
    let ids = schedule(&server, &items);
    std::thread::sleep(Duration::from_millis(600)); // within the claim lookahead: leased
    drop(server);
    std::thread::sleep(Duration::from_millis(1_200)); // now overdue
    let server = start(dir.path(), &[]);
    for id in &ids {
        let shown = wait_status(&server, id, "delivered", Duration::from_secs(3));
        assert_eq!(shown["attempts"], 1, "{shown}");
    }
}

/// A delivered notification also goes to the managed webhooks whose patterns match its event.
#[test]
fn a_delivered_notification_reaches_a_matching_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let subnets = ("RINGCAST_WEBHOOKS_ALLOWED_SUBNETS", "127.0.0.0/8");
    let server = start(dir.path(), &[subnets]);
    // Nothing listens on port 9: the attempt fails, and the delivery log shows it.
    let hook =
        json!({"name": "reminders", "url": "http://127.0.0.1:9/hook", "events": ["reminder"]});
    let path = format!("/apps/{}/webhooks", server.app_id);
    let (code, endpoint) = signed_call(&server, "POST", &path, &hook.to_string());
    assert_eq!(code, 201, "{endpoint}");
    let (code, created) = call(
        &server,
        "POST",
        "",
        &soon("private-notification.9", 300).to_string(),
    );
    assert_eq!(code, 201, "{created}");
    wait_status(
        &server,
        created["id"].as_str().unwrap(),
        "delivered",
        Duration::from_secs(5),
    );
    let log_path = format!("{path}/{}/deliveries", endpoint["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (code, log) = signed_call(&server, "GET", &log_path, "");
        assert_eq!(code, 200, "{log}");
        if let Some(first) = log["deliveries"].as_array().and_then(|d| d.first()) {
            assert_eq!(first["event"], "reminder", "{log}");
            break;
        }
        assert!(Instant::now() < deadline, "no webhook delivery: {log}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_batch_answers_per_item_and_the_list_pages_by_user() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let item = |user: u32| {
        json!({"user_id": user, "data": {"n": user}, "scheduled_at": in_ms(600_000),
               "respect_quiet_hours": false})
    };
    let past = json!({"user_id": 7, "data": {}, "scheduled_at": in_ms(-60_000)});
    let batch = json!({"batch": [item(7), past, item(8), item(7), item(7)]});
    let (code, answer) = call(&server, "POST", "/batch", &batch.to_string());
    assert_eq!(
        code, 200,
        "a batch with a refused item is not all-created: {answer}"
    );
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 5, "{answer}");
    assert_eq!(results[1]["code"], 422, "{answer}");
    assert!(
        results[1]["error"].as_str().unwrap().contains("future"),
        "{answer}"
    );
    let created: Vec<&str> = [0, 2, 3, 4]
        .iter()
        .map(|&i| results[i]["id"].as_str().expect("created"))
        .collect();

    // User 7's three, two per page, newest first; user 8's one is never listed.
    let mut seen = Vec::new();
    let mut query = "?user_id=7&limit=2".to_owned();
    for page in 0.. {
        let (code, list) = call(&server, "GET", &query, "");
        assert_eq!(code, 200, "{list}");
        for n in list["notifications"].as_array().unwrap() {
            assert_eq!(n["user_id"], "7", "{n}");
            assert_eq!(n["status"], "pending", "{n}");
            seen.push(n["id"].as_str().unwrap().to_owned());
        }
        match list["next_cursor"].as_str() {
            Some(cursor) if !cursor.is_empty() => {
                query = format!("?user_id=7&limit=2&cursor={cursor}");
            }
            _ => break,
        }
        assert!(page < 3, "the cursor ends: {list}");
    }
    let mut want: Vec<String> = [created[0], created[2], created[3]]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    want.reverse();
    assert_eq!(
        seen, want,
        "user 7's notifications, newest first, each once"
    );
    let (_, eight) = call(&server, "GET", "?user_id=8", "");
    assert_eq!(eight["notifications"][0]["id"], created[1], "{eight}");
}
