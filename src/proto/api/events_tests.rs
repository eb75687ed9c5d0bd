//! Tests for event and batch bodies: both data shapes, both channel forms, every limit.

use super::*;
use proptest::prelude::*;

fn lim() -> Limits {
    Limits::default()
}

#[test]
fn node_sdk_body_keeps_the_data_literal_exactly() {
    let body = br#"{"name":"foo","channels":["project-3","b"],"data":"{\"some\":\"data\"}","socket_id":"1.2"}"#;
    let e = parse_event(body, &lim()).unwrap();
    assert_eq!(
        e,
        EventRequest {
            name: "foo".into(),
            channels: vec!["project-3".into(), "b".into()],
            data_literal: r#""{\"some\":\"data\"}""#.into(),
            socket_id: Some("1.2".into()),
            info: None,
        }
    );
}

#[test]
fn escapes_in_data_are_not_re_encoded() {
    // \u00e9 and \/ would change under re-encoding; the literal must be byte-identical.
    let body = br#"{"name":"e","channel":"c","data":  "caf\u00e9 \/ \n" , "info":"user_count"}"#;
    let e = parse_event(body, &lim()).unwrap();
    assert_eq!(e.data_literal, r#""caf\u00e9 \/ \n""#);
    assert_eq!(e.channels, vec!["c".to_string()]);
    assert_eq!(e.info.as_deref(), Some("user_count"));
}

#[test]
fn non_string_data_becomes_a_json_string_of_its_text() {
    let body = br#"{"name":"e","channel":"c","data":{"a":[1,"x"]}}"#;
    let e = parse_event(body, &lim()).unwrap();
    assert_eq!(e.data_literal, r#""{\"a\":[1,\"x\"]}""#);
    let e = parse_event(br#"{"name":"e","channel":"c","data":42}"#, &lim()).unwrap();
    assert_eq!(e.data_literal, r#""42""#);
}

#[test]
fn channels_wins_over_channel_and_escaped_names_are_decoded() {
    let body = br#"{"name":"n\u0041","channels":["a\/b"],"channel":"ignored","data":""}"#;
    let e = parse_event(body, &lim()).unwrap();
    assert_eq!(e.name, "nA");
    assert_eq!(e.channels, vec!["a/b".to_string()]);
}

#[test]
fn missing_or_empty_fields_are_named() {
    let cases: [(&[u8], ApiError); 6] = [
        (
            br#"{"channel":"c","data":"x"}"#,
            ApiError::MissingField("name"),
        ),
        (
            br#"{"name":"","channel":"c","data":"x"}"#,
            ApiError::MissingField("name"),
        ),
        (
            br#"{"name":"n","channel":"c"}"#,
            ApiError::MissingField("data"),
        ),
        (
            br#"{"name":"n","channel":"c","data":null}"#,
            ApiError::MissingField("data"),
        ),
        (
            br#"{"name":"n","data":"x"}"#,
            ApiError::MissingField("channels"),
        ),
        (
            br#"{"name":"n","channels":[],"data":"x"}"#,
            ApiError::NoChannels,
        ),
    ];
    for (body, want) in cases {
        let got = parse_event(body, &lim()).unwrap_err();
        assert_eq!(got, want);
        assert_eq!(got.status(), 400);
    }
}

#[test]
fn malformed_bodies_are_invalid_json() {
    for body in [
        &b""[..],
        b"[]",
        b"{",
        b"\xff",
        br#"{"name":1,"channel":"c","data":"x"}"#,
        br#"{"name":"n","channels":"c","data":"x"}"#,
    ] {
        let err = parse_event(body, &lim()).unwrap_err();
        assert!(matches!(err, ApiError::InvalidJson(_)), "{err:?}");
        assert_eq!(err.status(), 400);
    }
}

#[test]
fn channel_limit() {
    let names: Vec<String> = (0..101).map(|i| format!("\"c{i}\"")).collect();
    let body = format!(
        r#"{{"name":"n","data":"x","channels":[{}]}}"#,
        names.join(",")
    );
    assert_eq!(
        parse_event(body.as_bytes(), &lim()),
        Err(ApiError::TooManyChannels {
            count: 101,
            limit: 100
        })
    );
    let ok = format!(
        r#"{{"name":"n","data":"x","channels":[{}]}}"#,
        names[..100].join(",")
    );
    assert_eq!(
        parse_event(ok.as_bytes(), &lim()).unwrap().channels.len(),
        100
    );
    let msg = parse_event(body.as_bytes(), &lim())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("100"), "{msg}");
}

#[test]
fn event_name_limit_counts_characters() {
    let at = format!(
        r#"{{"name":"{}","channel":"c","data":"x"}}"#,
        "é".repeat(200)
    );
    assert!(parse_event(at.as_bytes(), &lim()).is_ok());
    let over = format!(
        r#"{{"name":"{}","channel":"c","data":"x"}}"#,
        "x".repeat(201)
    );
    assert_eq!(
        parse_event(over.as_bytes(), &lim()),
        Err(ApiError::EventNameTooLong {
            len: 201,
            limit: 200
        })
    );
}

#[test]
fn data_limit_is_413_and_counts_decoded_bytes() {
    let limits = Limits {
        max_data_bytes: 10,
        ..Limits::default()
    };
    // 10 decoded bytes written with escapes: \" is 1 byte, \u00e9 is 2, \ud83d\ude00 is 4.
    let at = br#"{"name":"n","channel":"c","data":"\"\u00e9\ud83d\ude00abc"}"#;
    assert!(parse_event(at, &limits).is_ok());
    let over = br#"{"name":"n","channel":"c","data":"\"\u00e9\ud83d\ude00abcd"}"#;
    let err = parse_event(over, &limits).unwrap_err();
    assert_eq!(
        err,
        ApiError::PayloadTooLarge {
            size: 11,
            limit: 10
        }
    );
    assert_eq!(err.status(), 413);
    assert!(err.to_string().starts_with("Payload too large"));
    assert!(err.to_string().contains("11 bytes"));
    let object = br#"{"name":"n","channel":"c","data":{"abcdefgh":1}}"#;
    assert!(matches!(
        parse_event(object, &limits),
        Err(ApiError::PayloadTooLarge { size: 14, .. })
    ));
}

#[test]
fn batch_parses_each_event() {
    let body = br#"{"batch":[
        {"channel":"a","name":"x","data":"{\"k\":1}","socket_id":"1.1"},
        {"channel":"b","name":"y","data":{"k":2},"info":"subscription_count"}
    ]}"#;
    let events = parse_batch(body, &lim()).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].channels, vec!["a".to_string()]);
    assert_eq!(events[0].data_literal, r#""{\"k\":1}""#);
    assert_eq!(events[0].socket_id.as_deref(), Some("1.1"));
    assert_eq!(events[1].data_literal, r#""{\"k\":2}""#);
    assert_eq!(events[1].info.as_deref(), Some("subscription_count"));
}

#[test]
fn batch_limits_and_item_errors() {
    let item = r#"{"channel":"a","name":"x","data":"d"}"#;
    let eleven = format!(r#"{{"batch":[{}]}}"#, [item; 11].join(","));
    assert_eq!(
        parse_batch(eleven.as_bytes(), &lim()),
        Err(ApiError::BatchTooLarge {
            count: 11,
            limit: 10
        })
    );
    let ten = format!(r#"{{"batch":[{}]}}"#, [item; 10].join(","));
    assert_eq!(parse_batch(ten.as_bytes(), &lim()).unwrap().len(), 10);
    assert_eq!(
        parse_batch(br#"{"batch":[]}"#, &lim()),
        Err(ApiError::EmptyBatch)
    );
    assert_eq!(
        parse_batch(br#"{}"#, &lim()),
        Err(ApiError::MissingField("batch"))
    );
    let second_bad = format!(r#"{{"batch":[{item},{{"channel":"a","data":"d"}}]}}"#);
    let err = parse_batch(second_bad.as_bytes(), &lim()).unwrap_err();
    assert_eq!(
        err,
        ApiError::InBatch {
            index: 1,
            error: Box::new(ApiError::MissingField("name"))
        }
    );
    assert!(err.to_string().starts_with("batch[1]: "));
    let big = format!(
        r#"{{"batch":[{{"channel":"a","name":"x","data":"{}"}}]}}"#,
        "x".repeat(10_001)
    );
    assert_eq!(
        parse_batch(big.as_bytes(), &lim()).unwrap_err().status(),
        413
    );
    assert!(matches!(
        parse_batch(br#"{"batch":[1]}"#, &lim()),
        Err(ApiError::InBatch { index: 0, .. })
    ));
}

proptest! {
    #[test]
    fn parse_event_never_panics(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_event(&body, &lim());
        let _ = parse_batch(&body, &lim());
    }

    #[test]
    fn parse_event_never_panics_on_near_valid_json(
        name in ".{0,8}",
        data in ".{0,64}",
        chans in prop::collection::vec(".{0,8}", 0..4),
    ) {
        let body = serde_json::json!({"name": name, "data": data, "channels": chans}).to_string();
        let parsed = parse_event(body.as_bytes(), &lim());
        if !name.is_empty() && !chans.is_empty() {
            let e = parsed.unwrap();
            prop_assert_eq!(serde_json::from_str::<String>(&e.data_literal).unwrap(), data);
        }
        let batch = format!(r#"{{"batch":[{body}]}}"#);
        let _ = parse_batch(batch.as_bytes(), &lim());
    }

    #[test]
    fn decoded_len_matches_serde(s in ".{0,64}") {
        let literal = serde_json::to_string(&s).unwrap();
        prop_assert_eq!(json_string_decoded_len(&literal), s.len());
        // The same string with every char written as \u escapes (pairs for astral chars).
        let escaped: String = s
            .encode_utf16()
            .map(|u| format!("\\u{u:04x}"))
            .collect();
        prop_assert_eq!(json_string_decoded_len(&format!("\"{escaped}\"")), s.len());
    }
}
