//! Notification requests: targets, the Laravel payload, quiet hours, each refusal with its
//! status, batches, the answers, and a proptest over generated requests.

use jiff::Timestamp;
use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::scheduler::SchedulerError;

const NOW: &str = "2026-05-01T12:00:00Z";

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn create(body: Value) -> Result<NotificationRequest, NotificationError> {
    create_with(body, &NotificationSettings::default())
}

fn create_with(
    body: Value,
    settings: &NotificationSettings,
) -> Result<NotificationRequest, NotificationError> {
    parse_create(body.to_string().as_bytes(), settings, ts(NOW), 7)
}

/// The data a subscriber receives: the literal is a JSON string holding JSON text.
fn delivered(req: &NotificationRequest) -> Value {
    let text: String = serde_json::from_str(&req.data_literal).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn err(body: Value) -> NotificationError {
    create(body).unwrap_err()
}

#[test]
fn user_notification_gets_the_laravel_event_channel_and_payload() {
    let req = create(json!({
        "user_id": "42",
        "data": {"title": "Hi", "id": "spoofed"},
        "scheduled_at": "2026-05-01T15:00:00+02:00",
        "id": "order-7-shipped",
    }))
    .unwrap();
    assert_eq!(req.channel, "private-notification.42");
    assert_eq!(req.user_id.as_deref(), Some("42"));
    assert_eq!(req.event, DEFAULT_EVENT);
    assert_eq!(
        req.event,
        "Illuminate\\Notifications\\Events\\BroadcastNotificationCreated"
    );
    assert_eq!(req.client_id.as_deref(), Some("order-7-shipped"));
    assert!(is_valid_id(&req.id));
    // Laravel's broadcastWith: the data's fields, then id (the notification's) and type.
    assert_eq!(
        delivered(&req),
        json!({"title": "Hi", "id": req.id, "type": DEFAULT_TYPE})
    );
    // 13:00 UTC is outside the default 22:00-08:00 UTC window.
    assert_eq!(req.scheduled_at, ts("2026-05-01T13:00:00Z"));
    assert_eq!(req.deliver_at, req.scheduled_at);
}

#[test]
fn the_published_frame_is_what_echo_notification_listens_for() {
    let req = create(json!({"user_id": 42, "data": {"title": "Hi"},
                            "scheduled_at": "2026-05-01T13:00:00Z"}))
    .unwrap();
    // The frame the shards would send, through the crate's own encoder.
    let frame =
        crate::proto::pusher::channel_event(&req.event, &req.channel, &req.data_literal, None);
    let frame: Value = serde_json::from_str(&frame).unwrap();
    // Echo's notification(cb) is listen('.Illuminate\\Notifications\\Events\\BroadcastNotificationCreated'):
    // the leading dot means the name is used as is, without the app namespace.
    assert_eq!(
        frame["event"],
        "Illuminate\\Notifications\\Events\\BroadcastNotificationCreated"
    );
    assert_eq!(frame["channel"], "private-notification.42");
    // pusher-js hands the callback JSON.parse(data).
    let data: Value = serde_json::from_str(frame["data"].as_str().unwrap()).unwrap();
    assert_eq!(
        data,
        json!({"title": "Hi", "id": req.id, "type": DEFAULT_TYPE})
    );
}

#[test]
fn the_app_template_names_the_channel_and_integer_ids_work() {
    let settings = NotificationSettings {
        channel_template: "private-App.Models.User.{user_id}".to_owned(),
        ..NotificationSettings::default()
    };
    let req = create_with(
        json!({"user_id": 42, "data": {"type": "App\\Notifications\\Shipped"},
               "scheduled_at": "2026-05-01T12:00:02Z"}),
        &settings,
    )
    .unwrap();
    assert_eq!(req.channel, "private-App.Models.User.42");
    assert_eq!(delivered(&req)["type"], "App\\Notifications\\Shipped");
}

#[test]
fn other_events_keep_their_data_and_get_the_id_on_objects() {
    let base =
        json!({"channel": "orders", "event": "shipped", "scheduled_at": "2026-05-01T13:00:00Z"});
    let with = |data: Value| {
        let mut body = base.clone();
        body["data"] = data;
        create(body).unwrap()
    };
    let req = with(json!("plain text"));
    assert_eq!(req.data_literal, "\"plain text\"");
    assert_eq!(req.user_id, None);
    let req = with(json!({"n": 1}));
    assert_eq!(delivered(&req), json!({"n": 1, "id": req.id}));
    assert_eq!(with(json!([1, 2])).data_literal, "\"[1,2]\"");
}

#[test]
fn quiet_hours_move_deliver_at_in_the_requested_zone() {
    let body = |extra: Value| {
        let mut b = json!({"user_id": "1", "data": {}, "scheduled_at": "2026-05-01T21:30:00Z"});
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        create(b).unwrap().deliver_at
    };
    // 21:30 UTC is 23:30 in Berlin (CEST): quiet until 08:00 CEST.
    assert_eq!(
        body(json!({"timezone": "Europe/Berlin"})),
        ts("2026-05-02T08:00:00+02:00")
    );
    // App default zone UTC: 21:30 is before 22:00.
    assert_eq!(body(json!({})), ts("2026-05-01T21:30:00Z"));
    assert_eq!(
        body(json!({"timezone": "Europe/Berlin", "respect_quiet_hours": false})),
        ts("2026-05-01T21:30:00Z")
    );
    // A request window 21:00-06:30 in UTC.
    assert_eq!(
        body(json!({"quiet_hours": {"start": "21:00", "end": "06:30"}})),
        ts("2026-05-02T06:30:00Z")
    );
    // The app's own default zone is used when the request names none.
    let settings = NotificationSettings {
        quiet: crate::scheduler::QuietPolicy {
            default_zone: crate::scheduler::time_zone("Asia/Kolkata").unwrap(),
            ..Default::default()
        },
        ..NotificationSettings::default()
    };
    let req = create_with(
        json!({"user_id": "1", "data": {}, "scheduled_at": "2026-05-01T17:00:00Z"}),
        &settings,
    )
    .unwrap();
    assert_eq!(req.deliver_at, ts("2026-05-02T08:00:00+05:30"));
}

#[test]
fn a_time_not_in_the_future_is_422_and_says_so() {
    for at in [NOW, "2026-05-01T11:59:59Z", "2020-01-01T00:00:00Z"] {
        let e = err(json!({"user_id": "1", "data": {}, "scheduled_at": at}));
        assert!(
            matches!(e, NotificationError::NotInFuture { .. }),
            "{at}: {e:?}"
        );
        assert_eq!(e.status(), 422);
        assert!(e.to_string().contains("must be in the future"), "{e}");
    }
}

#[test]
fn each_refusal_has_its_own_variant_and_status() {
    let ok = json!({"user_id": "1", "data": {}, "scheduled_at": "2026-05-01T13:00:00Z"});
    let with = |key: &str, value: Value| {
        let mut b = ok.clone();
        b[key] = value;
        err(b)
    };
    let without = |key: &str| {
        let mut b = ok.clone();
        b.as_object_mut().unwrap().remove(key);
        err(b)
    };
    use NotificationError as E;
    let cases: Vec<(E, u16, &str)> = vec![
        (
            with("timezone", json!("Mars/Base")),
            400,
            "unknown time zone",
        ),
        (without("user_id"), 400, "no recipient"),
        (with("channel", json!("x")), 400, "exactly one"),
        (with("user_id", json!("a b")), 400, "invalid channel name"),
        (with("user_id", json!(true)), 400, "wrong type"),
        (with("scheduled_at", json!(5)), 400, "wrong type"),
        (with("scheduled_at", json!("tomorrow")), 400, "RFC 3339"),
        (without("scheduled_at"), 400, "\"scheduled_at\""),
        (without("data"), 400, "\"data\""),
        (with("data", json!("text")), 400, "must be a JSON object"),
        (with("data", json!({"type": 3})), 400, "data.type"),
        (with("id", json!("")), 400, "idempotency"),
        (with("id", json!("has space")), 400, "idempotency"),
        (with("event", json!("")), 400, "event name"),
        (
            with("quiet_hours", json!({"start": "9pm", "end": "07:00"})),
            400,
            "HH:MM",
        ),
        (
            with("data", json!({"blob": "x".repeat(10_000)})),
            413,
            "Payload too large",
        ),
    ];
    for (e, status, text) in cases {
        assert_eq!(e.status(), status, "{e:?}");
        assert!(e.to_string().contains(text), "{text:?} not in {e}");
    }
    assert!(matches!(
        with("timezone", json!("Mars/Base")),
        E::Schedule(SchedulerError::UnknownTimeZone { .. })
    ));
    let malformed = parse_create(
        b"{\"user_id\":",
        &NotificationSettings::default(),
        ts(NOW),
        1,
    );
    assert!(matches!(malformed, Err(E::MalformedJson(_))));
    assert_eq!(without("user_id"), E::MissingTarget);
    assert_eq!(with("channel", json!("x")), E::AmbiguousTarget);
    let bad_channel =
        err(json!({"channel": "a#b", "data": {}, "scheduled_at": "2026-05-01T13:00:00Z"}));
    assert!(matches!(bad_channel, E::InvalidChannel { ref channel, .. } if channel == "a#b"));
}

#[test]
fn batches_answer_per_item_and_have_limits() {
    let settings = NotificationSettings::default();
    let mut n = 0u128;
    let mut random = || {
        n += 1;
        n
    };
    let good = json!({"user_id": "1", "data": {}, "scheduled_at": "2026-05-01T13:00:00Z"});
    let late = json!({"user_id": "1", "data": {}, "scheduled_at": "2026-05-01T11:00:00Z"});
    let body = json!({"batch": [good, late, good]}).to_string();
    let results = parse_batch(body.as_bytes(), &settings, ts(NOW), &mut random).unwrap();
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok() && results[2].is_ok());
    assert_eq!(results[1].as_ref().unwrap_err().status(), 422);
    // Each item got its own id.
    assert_ne!(
        results[0].as_ref().unwrap().id,
        results[2].as_ref().unwrap().id
    );
    let answers: Vec<_> = results
        .iter()
        .map(|r| {
            r.as_ref()
                .map(|req| Created {
                    id: req.id.clone(),
                    scheduled_at: req.scheduled_at,
                    deliver_at: req.deliver_at,
                })
                .map_err(Clone::clone)
        })
        .collect();
    let answer: Value = serde_json::from_str(&batch_body(&answers)).unwrap();
    assert_eq!(answer["results"][0]["status"], "pending");
    assert_eq!(answer["results"][1]["code"], 422);

    let over = json!({"batch": vec![good.clone(); MAX_BATCH + 1]}).to_string();
    assert_eq!(
        parse_batch(over.as_bytes(), &settings, ts(NOW), &mut random).unwrap_err(),
        NotificationError::BatchTooLarge {
            count: 1_001,
            limit: 1_000
        }
    );
    let full = json!({"batch": vec![good; MAX_BATCH]}).to_string();
    assert_eq!(
        parse_batch(full.as_bytes(), &settings, ts(NOW), &mut random)
            .unwrap()
            .len(),
        MAX_BATCH
    );
    for (body, expected) in [
        ("{\"batch\":[]}", NotificationError::EmptyBatch),
        ("{}", NotificationError::MissingField("batch")),
    ] {
        assert_eq!(
            parse_batch(body.as_bytes(), &settings, ts(NOW), &mut random).unwrap_err(),
            expected
        );
    }
}

#[test]
fn the_create_answer_has_the_documented_fields() {
    let created = Created {
        id: "ntf_x".to_owned(),
        scheduled_at: ts("2026-05-01T21:30:00Z"),
        deliver_at: ts("2026-05-02T08:00:00Z"),
    };
    let v: Value = serde_json::from_str(&created_body(&created)).unwrap();
    assert_eq!(
        v,
        json!({"id": "ntf_x", "status": "pending",
               "scheduled_at": "2026-05-01T21:30:00Z", "deliver_at": "2026-05-02T08:00:00Z"})
    );
}

fn view(id: String, status: Status) -> NotificationView {
    NotificationView {
        id,
        status,
        channel: "private-notification.1".to_owned(),
        user_id: Some("1".to_owned()),
        event: DEFAULT_EVENT.to_owned(),
        scheduled_at: ts("2026-05-01T13:00:00Z"),
        deliver_at: ts("2026-05-01T13:00:00Z"),
        delivered_at: (status == Status::Delivered).then(|| ts("2026-05-01T13:00:00.250Z")),
        attempts: 1,
        last_error: None,
    }
}

#[test]
fn the_view_shows_status_attempts_and_times() {
    let v: Value = serde_json::from_str(&view("ntf_a".into(), Status::Delivered).body()).unwrap();
    assert_eq!(v["status"], "delivered");
    assert_eq!(v["attempts"], 1);
    assert_eq!(v["deliver_at"], "2026-05-01T13:00:00Z");
    assert_eq!(v["delivered_at"], "2026-05-01T13:00:00.25Z");
    let v: Value = serde_json::from_str(&view("ntf_a".into(), Status::Pending).body()).unwrap();
    assert_eq!(v["delivered_at"], Value::Null);
}

#[test]
fn list_pages_carry_a_cursor_that_comes_back_as_the_last_id() {
    let ids: Vec<String> = (0..3).map(|i| new_id(ts(NOW), i)).collect();
    let rows: Vec<_> = ids
        .iter()
        .map(|id| view(id.clone(), Status::Pending))
        .collect();
    // The store fetched limit + 1 = 3 rows for a limit of 2: there is another page.
    let page: Value = serde_json::from_str(&list_body(&rows, 2)).unwrap();
    assert_eq!(page["notifications"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let query = parse_list_query(&[
        ("status".into(), "pending".into()),
        ("user_id".into(), "1".into()),
        ("cursor".into(), cursor),
        ("limit".into(), "2".into()),
        ("auth_key".into(), "k".into()),
    ])
    .unwrap();
    assert_eq!(
        query,
        ListQuery {
            status: Some(Status::Pending),
            user_id: Some("1".into()),
            after: Some(ids[1].clone()),
            limit: 2
        }
    );
    // The last page has no cursor.
    let last: Value = serde_json::from_str(&list_body(&rows[2..], 2)).unwrap();
    assert_eq!(last["next_cursor"], Value::Null);
    assert_eq!(parse_list_query(&[]).unwrap().limit, 100);
}

#[test]
fn cancel_answers_200_for_pending_and_409_otherwise() {
    let ok = cancel_response("ntf_a", Status::Pending);
    assert_eq!(ok.status, 200);
    let v: Value = serde_json::from_slice(&ok.body).unwrap();
    assert_eq!(v, json!({"id": "ntf_a", "status": "cancelled"}));
    for done in [Status::Delivered, Status::Failed, Status::Cancelled] {
        let r = cancel_response("ntf_a", done);
        assert_eq!(r.status, 409);
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert!(v["error"].as_str().unwrap().contains(done.as_str()));
    }
}

#[test]
fn bad_list_queries_are_refused() {
    let q = |k: &str, v: &str| parse_list_query(&[(k.to_owned(), v.to_owned())]).unwrap_err();
    assert_eq!(
        q("status", "done"),
        NotificationError::InvalidStatus("done".into())
    );
    assert_eq!(q("cursor", "bm9wZQ"), NotificationError::InvalidCursor);
    assert_eq!(q("cursor", "!!"), NotificationError::InvalidCursor);
    for bad in ["0", "1001", "ten"] {
        assert!(matches!(
            q("limit", bad),
            NotificationError::InvalidLimit { .. }
        ));
    }
    assert_eq!("cancelled".parse::<Status>(), Ok(Status::Cancelled));
}

proptest! {
    #[test]
    fn generated_requests_come_back_as_sent(
        user in "[A-Za-z0-9_]{1,40}",
        secs in 1i64..100_000_000,
        title in "\\PC{0,50}",
        random in any::<u128>(),
    ) {
        let at = ts(NOW).checked_add(jiff::SignedDuration::from_secs(secs)).unwrap();
        let body = json!({"user_id": user, "data": {"title": title},
                          "scheduled_at": at.to_string(), "respect_quiet_hours": false});
        let settings = NotificationSettings::default();
        let req = parse_create(body.to_string().as_bytes(), &settings, ts(NOW), random).unwrap();
        prop_assert_eq!(&req.channel, &format!("private-notification.{user}"));
        prop_assert_eq!(req.scheduled_at, at);
        prop_assert_eq!(req.deliver_at, at);
        prop_assert_eq!(&req.id, &new_id(ts(NOW), random));
        let data = delivered(&req);
        prop_assert_eq!(&data["title"], &json!(title));
        prop_assert_eq!(&data["id"], &json!(req.id));
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..200)) {
        let settings = NotificationSettings::default();
        let _ = parse_create(&body, &settings, ts(NOW), 0);
        let _ = parse_batch(&body, &settings, ts(NOW), &mut || 0);
    }
}
