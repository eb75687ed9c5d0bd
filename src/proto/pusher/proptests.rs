//! Property tests over the whole Pusher layer: no input makes it panic, and encoded channel
//! events always parse back to their inputs. Test-only; never part of the build otherwise.

use proptest::prelude::*;
use serde_json::Value;

use super::*;

proptest! {
    #[test]
    fn parse_never_panics(s in any::<String>()) {
        let _ = parse_client_message(&s);
    }

    #[test]
    fn parse_never_panics_on_jsonish(s in r#"\{("(event|data|channel|auth|channel_data|user_data)":("(pusher:subscribe|pusher:signin|pusher:ping|client-x|[a-z\\"]{0,4})"|\{|\}|\[|null|1|"\{\\"channel\\":\\"c\\"\}"),?){0,6}\}?"#) {
        let _ = parse_client_message(&s);
    }

    #[test]
    fn channel_rules_never_panic(s in any::<String>()) {
        let _ = channel_kind(&s);
        let _ = is_cache_channel(&s);
        let _ = server_to_user_id(&s);
        let _ = s.parse::<SocketId>();
        let _ = verify_channel_auth("k", "s", "1.1", &s, Some(&s), &s);
        let _ = verify_user_auth("k", "s", "1.1", &s, &s);
    }

    #[test]
    fn channel_event_round_trips(
        event in any::<String>(),
        channel in any::<String>(),
        data in any::<String>(),
        user_id in proptest::option::of(any::<String>()),
    ) {
        // The data literal as the REST API passes it: a JSON string literal.
        let literal = serde_json::to_string(&data).unwrap();
        let out = channel_event(&event, &channel, &literal, user_id.as_deref());
        let v: Value = serde_json::from_str(&out).unwrap();
        prop_assert_eq!(v["event"].as_str(), Some(event.as_str()));
        prop_assert_eq!(v["channel"].as_str(), Some(channel.as_str()));
        prop_assert_eq!(v["data"].as_str(), Some(data.as_str()));
        prop_assert_eq!(v.get("user_id").and_then(Value::as_str), user_id.as_deref());
        prop_assert_eq!(v.as_object().unwrap().len(), 3 + usize::from(user_id.is_some()));
    }

    #[test]
    fn client_event_parse_then_encode_round_trips(
        event in "client-[a-zA-Z0-9_\\-\"\\\\ é]{0,20}",
        channel in "[a-zA-Z0-9_\\-=@,.;\"]{1,30}",
        data in any::<String>(),
    ) {
        let msg = serde_json::json!({"event": event, "channel": channel, "data": data}).to_string();
        let parsed = parse_client_message(&msg).unwrap();
        let ClientMessage::ClientEvent { event: e, channel: c, data: d } = parsed else {
            panic!("not a client event");
        };
        let out = channel_event_raw(&e, &c, d, None);
        let v: Value = serde_json::from_str(&out).unwrap();
        prop_assert_eq!(v["event"].as_str(), Some(event.as_str()));
        prop_assert_eq!(v["channel"].as_str(), Some(channel.as_str()));
        prop_assert_eq!(v["data"].as_str(), Some(data.as_str()));
    }

    #[test]
    fn socket_id_round_trips(hi in any::<u64>(), lo in any::<u64>()) {
        let id = SocketId::new(hi, lo);
        prop_assert_eq!(id.to_string().parse::<SocketId>(), Ok(id));
    }

    #[test]
    fn signatures_verify(secret in ".{0,40}", sid in "[0-9]{1,5}\\.[0-9]{1,5}", ch in "[a-z\\-]{1,20}", cd in proptest::option::of(".{0,40}")) {
        let auth = channel_auth("key", &secret, &sid, &ch, cd.as_deref());
        prop_assert!(verify_channel_auth("key", &secret, &sid, &ch, cd.as_deref(), &auth));
        prop_assert!(!verify_channel_auth("other", &secret, &sid, &ch, cd.as_deref(), &auth));
    }
}
