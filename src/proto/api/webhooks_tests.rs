//! Tests for endpoint create and PATCH bodies: defaults, every field's refusal and its status,
//! partial updates, and round trips of valid specs.

use super::*;
use crate::webhook::endpoint::DEFAULT_RETRY_DELAYS;
use proptest::prelude::*;
use serde_json::json;

fn loopback() -> Vec<Cidr> {
    vec![Cidr::parse("127.0.0.0/8").unwrap()]
}

fn create(v: Value) -> Result<EndpointSpec, EndpointRequestError> {
    parse_create(v.to_string().as_bytes(), &[])
}

fn patch(v: Value) -> Result<EndpointPatch, EndpointRequestError> {
    parse_patch(v.to_string().as_bytes(), &[])
}

fn minimal() -> Value {
    json!({"name": "orders", "url": "https://hooks.example.com/in", "events": ["order.paid"]})
}

fn with(field: &str, value: Value) -> Value {
    let mut v = minimal();
    v[field] = value;
    v
}

#[test]
fn a_minimal_create_gets_every_default() {
    let spec = create(minimal()).unwrap();
    assert_eq!(
        spec,
        EndpointSpec {
            name: "orders".into(),
            url: "https://hooks.example.com/in".into(),
            events: vec!["order.paid".into()],
            tenant_id: None,
            is_active: true,
            max_retries: 5,
            retry_delays: DEFAULT_RETRY_DELAYS.to_vec(),
            secret: None,
            headers: BTreeMap::new(),
            rate_limit_per_s: None,
            format: Format::Standard,
        }
    );
    let pusher = create(json!({"name": "p", "url": "https://x.example/", "events": ["channel_occupied", "member_added"], "format": "pusher"})).unwrap();
    assert_eq!(
        (pusher.max_retries, pusher.retry_delays.len()),
        (4, 4),
        "the short schedule"
    );
}

#[test]
fn a_full_create_keeps_every_field() {
    let body = json!({
        "name": "billing", "url": "http://127.0.0.1:9000/hook", "events": ["order.*", "*"],
        "tenant_id": "acme", "is_active": false, "max_retries": 2, "retry_delays": [1, 1],
        "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "headers": {"X-Team": "billing"},
        "rate_limit_per_s": 50, "format": "standard"
    });
    let spec = parse_create(body.to_string().as_bytes(), &loopback()).unwrap();
    assert_eq!(spec.tenant_id.as_deref(), Some("acme"));
    assert!(!spec.is_active);
    assert_eq!(
        (spec.max_retries, spec.retry_delays.as_slice()),
        (2, &[1, 1][..])
    );
    assert_eq!(
        spec.secret.as_deref(),
        Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    );
    assert_eq!(spec.headers["X-Team"], "billing");
    assert_eq!(spec.rate_limit_per_s, Some(50));
    let nulls = create(with("tenant_id", Value::Null)).unwrap();
    assert_eq!(nulls.tenant_id, None);
}

/// Bodies each wrong in one field, with the status and a phrase of the expected message.
fn bad_create_bodies() -> Vec<(Value, u16, &'static str)> {
    let long_url = format!("https://example.com/{}", "a".repeat(2048));
    vec![
        (
            with("name", json!("")),
            422,
            "name must be a non-empty string",
        ),
        (
            with("name", json!("x".repeat(101))),
            422,
            "at most 100 characters",
        ),
        (with("url", json!(long_url)), 422, "the limit is 2048"),
        (
            with("url", json!("ftp://x.example/")),
            422,
            "only http:// and https://",
        ),
        (
            with("url", json!("http://10.0.0.8/")),
            422,
            "private-network",
        ),
        (with("url", json!(5)), 422, "url must be a string"),
        (
            with("events", json!([])),
            422,
            "events must be an array of 1 to 50",
        ),
        (
            with("events", json!(["ok", 3])),
            422,
            "events[1] must be a string",
        ),
        (
            with("events", json!(["order..paid"])),
            422,
            "'order..paid' is invalid",
        ),
        (
            with("events", json!("order.paid")),
            422,
            "events must be an array",
        ),
        (with("tenant_id", json!("a.b")), 422, "tenant_id is invalid"),
        (
            with("is_active", json!("yes")),
            422,
            "is_active must be true or false",
        ),
        (
            with("max_retries", json!(21)),
            422,
            "max_retries must be a whole number from 0 to 20",
        ),
        (
            with("max_retries", json!(-1)),
            422,
            "max_retries must be a whole number",
        ),
        (
            with("retry_delays", json!([60, 0])),
            422,
            "retry_delays[1] must be a whole number from 1 to 86400",
        ),
        (
            with("retry_delays", json!([])),
            422,
            "retry_delays must be an array of 1 to 20",
        ),
        (with("secret", json!("plain")), 422, "secret is invalid"),
        (
            with("headers", json!({"Content-Type": "x"})),
            422,
            "headers[\"Content-Type\"] must be a header ringcast does not set",
        ),
        (
            with("headers", json!({"webhook-signature": "x"})),
            422,
            "reserved",
        ),
        (
            with("headers", json!({"bad name": "x"})),
            422,
            "a header name",
        ),
        (
            with("headers", json!({"X-A": "a\r\nB: c"})),
            422,
            "without line breaks",
        ),
        (
            with("rate_limit_per_s", json!(0)),
            422,
            "rate_limit_per_s must be a whole number from 1 to 10000",
        ),
        (
            with("format", json!("xml")),
            422,
            "format must be \"standard\" or \"pusher\"",
        ),
        (
            json!({"name": "p", "url": "https://x.example/", "events": ["order.paid"], "format": "pusher"}),
            422,
            "for a pusher-format endpoint",
        ),
        (
            with("evnets", json!(["x"])),
            400,
            "unknown field \"evnets\"",
        ),
        (
            json!({"name": "n", "events": ["x"]}),
            400,
            "must have a \"url\" field",
        ),
        (with("name", Value::Null), 400, "must have a \"name\" field"),
        (json!([1]), 400, "not a JSON object"),
    ]
}

#[test]
fn each_bad_field_has_its_own_message() {
    for (body, status, needle) in bad_create_bodies() {
        let err = create(body.clone()).unwrap_err();
        assert_eq!(err.status(), status, "{body}: {err}");
        assert!(err.to_string().contains(needle), "{body}: {err}");
    }
    let garbage = parse_create(b"{\"name\": ", &[]).unwrap_err();
    assert_eq!(garbage.status(), 400);
    let response = garbage.to_response();
    assert_eq!(response.status, 400);
    let v: Value = serde_json::from_slice(&response.body).unwrap();
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("Content-Type: application/json"));
}

#[test]
fn patches_are_partial_and_null_clears_only_nullable_fields() {
    let p = patch(json!({"is_active": false})).unwrap();
    assert_eq!(
        p,
        EndpointPatch {
            is_active: Some(false),
            ..EndpointPatch::default()
        }
    );
    let p = patch(json!({"tenant_id": null, "rate_limit_per_s": null})).unwrap();
    assert_eq!((p.tenant_id, p.rate_limit_per_s), (Some(None), Some(None)));
    let p = patch(json!({"tenant_id": "acme", "rate_limit_per_s": 5, "events": ["*"]})).unwrap();
    assert_eq!(
        (p.tenant_id, p.rate_limit_per_s),
        (Some(Some("acme".into())), Some(Some(5)))
    );
    assert_eq!(p.events, Some(vec!["*".into()]));
    let p = patch(json!({"format": "pusher", "events": ["member_added"]})).unwrap();
    assert_eq!(p.format, Some(Format::Pusher));
    assert_eq!(
        patch(json!({})).unwrap_err(),
        EndpointRequestError::EmptyPatch
    );
    assert!(patch(json!({"name": null}))
        .unwrap_err()
        .to_string()
        .contains("null cannot unset it"));
    assert!(patch(json!({"url": "http://[::1]/"}))
        .unwrap_err()
        .to_string()
        .contains("loopback"));
    assert!(patch(json!({"format": "pusher", "events": ["order.paid"]})).is_err());
    assert_eq!(patch(json!({"id": "x"})).unwrap_err().status(), 400);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_create(&body, &[]);
        let _ = parse_patch(&body, &[]);
    }

    #[test]
    fn valid_specs_round_trip_through_json(
        name in "[a-z][a-z ]{0,30}",
        path in "[a-z0-9/]{0,20}",
        events in proptest::collection::vec("[a-z]{1,6}(\\.[a-z]{1,6})?(\\.\\*)?", 1..5),
        max_retries in 0u32..=20,
        delays in proptest::collection::vec(1u32..=86_400, 1..6),
        rate in proptest::option::of(1u32..=10_000),
        active in any::<bool>(),
    ) {
        let body = json!({
            "name": name, "url": format!("https://hooks.example.com/{path}"), "events": events,
            "max_retries": max_retries, "retry_delays": delays, "rate_limit_per_s": rate,
            "is_active": active,
        });
        let spec = create(body).unwrap();
        prop_assert_eq!(&spec.name, &name);
        prop_assert_eq!(&spec.events, &events);
        prop_assert_eq!((spec.max_retries, &spec.retry_delays), (max_retries, &delays));
        prop_assert_eq!((spec.rate_limit_per_s, spec.is_active), (rate, active));
    }
}
