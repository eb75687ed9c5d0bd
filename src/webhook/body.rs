//! The bytes a delivery carries: the business body `{id, type, timestamp, data}` and the Pusher
//! channel webhook body `{time_ms, events}`.
//!
//! Owns the JSON shapes only. Pusher event shapes follow Pusher's webhook reference:
//! `channel_occupied`, `channel_vacated` and `cache_miss` carry `channel`; `member_added` and
//! `member_removed` add `user_id`; `client_event` carries `channel`, `event`, `data`,
//! `socket_id` and, on presence channels, `user_id`; `subscription_count` carries `channel` and
//! `subscription_count`. Signing is in `signing`, batching in `batcher`; nothing reads a clock.

use serde::Serialize;
use serde_json::value::RawValue;

use super::dates::rfc3339_ms;

/// One event in a Pusher channel webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum PusherEvent {
    /// A channel got its first subscriber.
    ChannelOccupied {
        /// The channel.
        channel: String,
    },
    /// A channel lost its last subscriber.
    ChannelVacated {
        /// The channel.
        channel: String,
    },
    /// A user joined a presence channel (first connection of that user).
    MemberAdded {
        /// The channel.
        channel: String,
        /// The user.
        user_id: String,
    },
    /// A user left a presence channel (last connection of that user).
    MemberRemoved {
        /// The channel.
        channel: String,
        /// The user.
        user_id: String,
    },
    /// A client event was sent on a private or presence channel.
    ClientEvent {
        /// The channel.
        channel: String,
        /// The client event name (`client-…`).
        event: String,
        /// The event data, as the client sent it.
        data: String,
        /// The sender's socket.
        socket_id: String,
        /// The sender's user, on presence channels only.
        #[serde(skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
    },
    /// A client subscribed to a cache channel that has no cached event.
    CacheMiss {
        /// The channel.
        channel: String,
    },
    /// A channel's subscription count changed.
    SubscriptionCount {
        /// The channel.
        channel: String,
        /// Connections subscribed now.
        subscription_count: u64,
    },
}

impl PusherEvent {
    /// The event type, as listed in an app's `event_types`.
    pub fn kind(&self) -> &'static str {
        match self {
            PusherEvent::ChannelOccupied { .. } => "channel_occupied",
            PusherEvent::ChannelVacated { .. } => "channel_vacated",
            PusherEvent::MemberAdded { .. } => "member_added",
            PusherEvent::MemberRemoved { .. } => "member_removed",
            PusherEvent::ClientEvent { .. } => "client_event",
            PusherEvent::CacheMiss { .. } => "cache_miss",
            PusherEvent::SubscriptionCount { .. } => "subscription_count",
        }
    }

    /// The channel it is about (receivers filter on it).
    pub fn channel(&self) -> &str {
        match self {
            PusherEvent::ChannelOccupied { channel }
            | PusherEvent::ChannelVacated { channel }
            | PusherEvent::MemberAdded { channel, .. }
            | PusherEvent::MemberRemoved { channel, .. }
            | PusherEvent::ClientEvent { channel, .. }
            | PusherEvent::CacheMiss { channel }
            | PusherEvent::SubscriptionCount { channel, .. } => channel,
        }
    }
}

/// Every Pusher webhook event type.
pub const PUSHER_EVENT_TYPES: [&str; 7] = [
    "channel_occupied",
    "channel_vacated",
    "member_added",
    "member_removed",
    "client_event",
    "cache_miss",
    "subscription_count",
];

/// The bit of event type `kind` in a mask of wanted types (bit i is `PUSHER_EVENT_TYPES[i]`);
/// 0 for a name that is not a Pusher event type.
pub fn kind_bit(kind: &str) -> u16 {
    PUSHER_EVENT_TYPES
        .iter()
        .position(|t| *t == kind)
        .map_or(0, |i| 1 << i)
}

/// The mask of the event types a pusher-format endpoint's `events` name (`*` is every type).
pub fn kinds_mask(events: &[String]) -> u16 {
    events.iter().fold(0, |mask, e| match e.as_str() {
        "*" => mask | ((1 << PUSHER_EVENT_TYPES.len()) - 1),
        kind => mask | kind_bit(kind),
    })
}

#[derive(Serialize)]
struct PusherBody<'a> {
    time_ms: i64,
    events: &'a [PusherEvent],
}

/// `{"time_ms":…,"events":[…]}`.
pub fn pusher_body(time_ms: i64, events: &[PusherEvent]) -> Vec<u8> {
    serde_json::to_vec(&PusherBody { time_ms, events }).expect("plain data serializes")
}

/// One published event, as a business delivery describes it.
#[derive(Debug, Clone, Copy)]
pub struct BusinessEvent<'a> {
    /// The message id (`webhook-id`), stable across retries.
    pub id: &'a str,
    /// The event name.
    pub event: &'a str,
    /// When the event was accepted (unix ms).
    pub at_ms: i64,
    /// The channels it was published to.
    pub channels: &'a [String],
    /// The event's `data` string as published.
    pub data: &'a str,
}

#[derive(Serialize)]
struct BusinessData<'a> {
    channels: &'a [String],
    event: &'a str,
    payload: Payload<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Payload<'a> {
    Json(&'a RawValue),
    Text(&'a str),
}

#[derive(Serialize)]
struct BusinessBody<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    timestamp: String,
    data: BusinessData<'a>,
}

/// `{"id","type","timestamp","data":{"channels","event","payload"}}`. `type` is the event name
/// and `timestamp` is RFC 3339 (the Standard Webhooks payload convention). A `data` string that
/// holds a JSON object or array is embedded as JSON, so receivers get the document that was
/// published; any other `data` is kept as the string it was.
pub fn business_body(ev: &BusinessEvent<'_>) -> Vec<u8> {
    let trimmed = ev.data.trim_start();
    let payload = match serde_json::from_str::<&RawValue>(ev.data) {
        Ok(raw) if trimmed.starts_with('{') || trimmed.starts_with('[') => Payload::Json(raw),
        _ => Payload::Text(ev.data),
    };
    let body = BusinessBody {
        id: ev.id,
        kind: ev.event,
        timestamp: rfc3339_ms(ev.at_ms),
        data: BusinessData {
            channels: ev.channels,
            event: ev.event,
            payload,
        },
    };
    serde_json::to_vec(&body).expect("plain data serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    #[test]
    fn event_type_masks_name_each_type_and_star_names_all() {
        assert_eq!(kind_bit("channel_occupied"), 1);
        assert_eq!(kind_bit("subscription_count"), 1 << 6);
        assert_eq!(kind_bit("order.paid"), 0);
        let some = ["member_added".to_owned(), "cache_miss".to_owned()];
        assert_eq!(
            kinds_mask(&some),
            kind_bit("member_added") | kind_bit("cache_miss")
        );
        assert_eq!(kinds_mask(&["*".to_owned()]), 0b111_1111);
    }

    proptest! {
        #[test]
        fn any_data_yields_json_whose_payload_keeps_it(data in "\\PC{0,40}", id in "[a-z0-9_]{1,20}") {
            let channels = vec!["c".to_owned()];
            let ev = BusinessEvent { id: &id, event: "e", at_ms: 0, channels: &channels, data: &data };
            let body: Value = serde_json::from_slice(&business_body(&ev)).unwrap();
            prop_assert_eq!(&body["id"], &json!(id));
            let payload = &body["data"]["payload"];
            match payload.as_str() {
                Some(text) => prop_assert_eq!(text, data.as_str()),
                None => prop_assert_eq!(payload, &serde_json::from_str::<Value>(&data).unwrap()),
            }
        }
    }

    #[test]
    fn pusher_events_have_the_documented_fields() {
        let ch = || "presence-room".to_owned();
        let events = vec![
            PusherEvent::ChannelOccupied { channel: ch() },
            PusherEvent::ChannelVacated { channel: ch() },
            PusherEvent::MemberAdded {
                channel: ch(),
                user_id: "u1".into(),
            },
            PusherEvent::MemberRemoved {
                channel: ch(),
                user_id: "u1".into(),
            },
            PusherEvent::ClientEvent {
                channel: ch(),
                event: "client-typing".into(),
                data: "{\"a\":1}".into(),
                socket_id: "1.2".into(),
                user_id: Some("u1".into()),
            },
            PusherEvent::ClientEvent {
                channel: "private-x".into(),
                event: "client-x".into(),
                data: "d".into(),
                socket_id: "3.4".into(),
                user_id: None,
            },
            PusherEvent::CacheMiss {
                channel: "cache-x".into(),
            },
            PusherEvent::SubscriptionCount {
                channel: "news".into(),
                subscription_count: 12,
            },
        ];
        let body: Value = serde_json::from_slice(&pusher_body(1_327_078_148_132, &events)).unwrap();
        assert_eq!(
            body,
            json!({"time_ms": 1_327_078_148_132_i64, "events": [
                {"name": "channel_occupied", "channel": "presence-room"},
                {"name": "channel_vacated", "channel": "presence-room"},
                {"name": "member_added", "channel": "presence-room", "user_id": "u1"},
                {"name": "member_removed", "channel": "presence-room", "user_id": "u1"},
                {"name": "client_event", "channel": "presence-room", "event": "client-typing",
                 "data": "{\"a\":1}", "socket_id": "1.2", "user_id": "u1"},
                {"name": "client_event", "channel": "private-x", "event": "client-x",
                 "data": "d", "socket_id": "3.4"},
                {"name": "cache_miss", "channel": "cache-x"},
                {"name": "subscription_count", "channel": "news", "subscription_count": 12},
            ]})
        );
        for (event, kind) in events.iter().zip(body["events"].as_array().unwrap()) {
            assert_eq!(event.kind(), kind["name"]);
            assert!(PUSHER_EVENT_TYPES.contains(&event.kind()));
        }
    }

    #[test]
    fn business_body_embeds_json_documents_and_keeps_other_data_as_text() {
        let channels = vec!["tenant.acme.orders".to_owned()];
        let ev = |data| BusinessEvent {
            id: "msg_1",
            event: "order.paid",
            at_ms: 1_614_265_330_007,
            channels: &channels,
            data,
        };
        let body: Value = serde_json::from_slice(&business_body(&ev(r#"{"total": 12}"#))).unwrap();
        assert_eq!(
            body,
            json!({"id": "msg_1", "type": "order.paid", "timestamp": "2021-02-25T15:02:10.007Z",
                   "data": {"channels": ["tenant.acme.orders"], "event": "order.paid",
                            "payload": {"total": 12}}})
        );
        for text in ["42", "\"quoted\"", "not json", "{broken", ""] {
            let body: Value = serde_json::from_slice(&business_body(&ev(text))).unwrap();
            assert_eq!(body["data"]["payload"], json!(text), "{text}");
        }
        let list: Value = serde_json::from_slice(&business_body(&ev(" [1,2]"))).unwrap();
        assert_eq!(list["data"]["payload"], json!([1, 2]));
    }
}
