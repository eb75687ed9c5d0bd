//! Client → server messages: a borrowed parse of one WebSocket text message.
//!
//! Owns the shapes clients send (docs: pusher-websockets-protocol; pusher-js `send_event`
//! writes `{"event":…,"data":…,"channel"?:…}`) and turns them into [`ClientMessage`], borrowing
//! from the input wherever JSON escaping allows. Client-event `data` is kept as a
//! [`RawValue`]: validated, never turned into a DOM. It never checks signatures, subscriptions
//! or limits; that is the shell's job with `auth` and `channel`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::PusherError;

/// One message from a client. Equality compares client-event `data` by its JSON text.
#[derive(Debug, Clone)]
pub enum ClientMessage<'a> {
    /// `pusher:ping`: answer with `pusher:pong`.
    Ping,
    /// `pusher:pong`: the client answered our ping.
    Pong,
    /// `pusher:subscribe`.
    Subscribe {
        /// The channel name, not yet validated (see `channel_kind`).
        channel: Cow<'a, str>,
        /// `key:signature` for private, encrypted and presence channels.
        auth: Option<Cow<'a, str>>,
        /// The presence member JSON, exactly as signed (a string, not re-serialised).
        channel_data: Option<Cow<'a, str>>,
    },
    /// `pusher:unsubscribe`.
    Unsubscribe {
        /// The channel name.
        channel: Cow<'a, str>,
    },
    /// `pusher:signin`.
    Signin {
        /// `key:signature` over `socket_id::user::user_data`.
        auth: Cow<'a, str>,
        /// The user JSON, exactly as signed.
        user_data: Cow<'a, str>,
    },
    /// A `client-*` event to rebroadcast on `channel`.
    ClientEvent {
        /// The event name, starting with `client-`.
        event: Cow<'a, str>,
        /// The channel to send it on, not yet validated.
        channel: Cow<'a, str>,
        /// The data, as sent (`null` when the client sent none).
        data: &'a RawValue,
    },
    /// Any other event name (an unknown `pusher:` event or a name without `client-`): the
    /// shell answers with an error or ignores it.
    Unknown {
        /// The event name as sent.
        event: Cow<'a, str>,
    },
}

impl PartialEq for ClientMessage<'_> {
    fn eq(&self, other: &Self) -> bool {
        use ClientMessage::*;
        match (self, other) {
            (Ping, Ping) | (Pong, Pong) => true,
            (
                Subscribe {
                    channel: a,
                    auth: b,
                    channel_data: c,
                },
                Subscribe {
                    channel: x,
                    auth: y,
                    channel_data: z,
                },
            ) => a == x && b == y && c == z,
            (Unsubscribe { channel: a }, Unsubscribe { channel: x }) => a == x,
            (
                Signin {
                    auth: a,
                    user_data: b,
                },
                Signin {
                    auth: x,
                    user_data: y,
                },
            ) => a == x && b == y,
            (
                ClientEvent {
                    event: a,
                    channel: b,
                    data: c,
                },
                ClientEvent {
                    event: x,
                    channel: y,
                    data: z,
                },
            ) => a == x && b == y && c.get() == z.get(),
            (Unknown { event: a }, Unknown { event: x }) => a == x,
            _ => false,
        }
    }
}

impl Eq for ClientMessage<'_> {}

/// Parses one text message from a client.
///
/// `data` of a `pusher:*` event may be an object (pusher-js) or a JSON-encoded string holding
/// that object (some other clients); both are accepted. Fields decoded from a string, or that
/// contain JSON escapes, come back owned; all others borrow from `text`.
pub fn parse_client_message(text: &str) -> Result<ClientMessage<'_>, PusherError> {
    let env: Envelope<'_> = serde_json::from_str(text).map_err(|e| envelope_error(text, &e))?;
    // serde's derived structs also accept a JSON array (fields by position); Pusher does not.
    if !is_object(text) {
        return Err(PusherError::InvalidJson(
            "the message must be a JSON object".to_owned(),
        ));
    }
    let event = string_field(env.event, "event")?.ok_or(PusherError::MissingField("event"))?;

    if let Some(name) = event.strip_prefix("pusher:") {
        return match name {
            "ping" => Ok(ClientMessage::Ping),
            "pong" => Ok(ClientMessage::Pong),
            "subscribe" => {
                let d = data_fields(env.data)?;
                Ok(ClientMessage::Subscribe {
                    channel: d.channel.ok_or(PusherError::MissingField("channel"))?,
                    auth: d.auth,
                    channel_data: d.channel_data,
                })
            }
            "unsubscribe" => {
                let d = data_fields(env.data)?;
                Ok(ClientMessage::Unsubscribe {
                    channel: d.channel.ok_or(PusherError::MissingField("channel"))?,
                })
            }
            "signin" => {
                let d = data_fields(env.data)?;
                Ok(ClientMessage::Signin {
                    auth: d.auth.ok_or(PusherError::MissingField("auth"))?,
                    user_data: d.user_data.ok_or(PusherError::MissingField("user_data"))?,
                })
            }
            _ => Ok(ClientMessage::Unknown { event }),
        };
    }

    if event.starts_with("client-") {
        let channel =
            string_field(env.channel, "channel")?.ok_or(PusherError::MissingField("channel"))?;
        // pusher-js omits `data` when the app triggers without data; pass `null` on.
        let data = match env.data {
            Some(d) => d,
            None => null_raw()?,
        };
        return Ok(ClientMessage::ClientEvent {
            event,
            channel,
            data,
        });
    }

    Ok(ClientMessage::Unknown { event })
}

/// The outer object. Fields stay raw so a wrong type is reported by field name; unknown
/// fields are ignored so newer clients keep working.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    event: Option<&'a RawValue>,
    #[serde(borrow, default)]
    channel: Option<&'a RawValue>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// The fields any `pusher:*` event's `data` may carry, still raw.
#[derive(Deserialize)]
struct RawFields<'a> {
    #[serde(borrow, default)]
    channel: Option<&'a RawValue>,
    #[serde(borrow, default)]
    auth: Option<&'a RawValue>,
    #[serde(borrow, default)]
    channel_data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    user_data: Option<&'a RawValue>,
}

/// The string fields of a `pusher:*` event's `data`, each `None` when absent or `null`.
struct DataFields<'a> {
    channel: Option<Cow<'a, str>>,
    auth: Option<Cow<'a, str>>,
    channel_data: Option<Cow<'a, str>>,
    user_data: Option<Cow<'a, str>>,
}

impl DataFields<'_> {
    fn into_static(self) -> DataFields<'static> {
        let own = |c: Option<Cow<'_, str>>| c.map(|c| Cow::Owned(c.into_owned()));
        DataFields {
            channel: own(self.channel),
            auth: own(self.auth),
            channel_data: own(self.channel_data),
            user_data: own(self.user_data),
        }
    }
}

/// The `data` of a `pusher:*` event, given as an object or as a string holding one.
fn data_fields(data: Option<&RawValue>) -> Result<DataFields<'_>, PusherError> {
    let raw = data.ok_or(PusherError::MissingField("data"))?.get();
    if raw.starts_with('"') {
        // Double-encoded: decode the string, then read the object inside it. Its fields cannot
        // borrow from that temporary string, so they are made owned.
        let inner = serde_json::from_str::<Str<'_>>(raw)
            .map_err(|_| bad_data())?
            .0;
        return fields_of(&inner).map(DataFields::into_static);
    }
    fields_of(raw)
}

fn fields_of(raw: &str) -> Result<DataFields<'_>, PusherError> {
    if !is_object(raw) {
        return Err(bad_data());
    }
    let f: RawFields<'_> = serde_json::from_str(raw).map_err(|_| bad_data())?;
    Ok(DataFields {
        channel: string_field(f.channel, "channel")?,
        auth: string_field(f.auth, "auth")?,
        channel_data: string_field(f.channel_data, "channel_data")?,
        user_data: string_field(f.user_data, "user_data")?,
    })
}

/// A field that must be a JSON string when present; `null` counts as absent (some clients
/// send `"auth": null` for public channels).
fn string_field<'a>(
    raw: Option<&'a RawValue>,
    field: &'static str,
) -> Result<Option<Cow<'a, str>>, PusherError> {
    let Some(raw) = raw else { return Ok(None) };
    if raw.get() == "null" {
        return Ok(None);
    }
    serde_json::from_str::<Str<'a>>(raw.get())
        .map(|s| Some(s.0))
        .map_err(|_| PusherError::InvalidField {
            field,
            expected: "a string",
        })
}

/// Whether already-validated JSON text is an object rather than an array or scalar.
fn is_object(json: &str) -> bool {
    json.trim_start().starts_with('{')
}

fn bad_data() -> PusherError {
    PusherError::InvalidField {
        field: "data",
        expected: "an object or a JSON-encoded object",
    }
}

/// A `null` to stand in for absent client-event data; borrowed from a static string, so it
/// outlives any input.
fn null_raw() -> Result<&'static RawValue, PusherError> {
    serde_json::from_str("null").map_err(|e| PusherError::InvalidJson(e.to_string()))
}

/// Describes why the outer message did not parse, without naming our internal types.
fn envelope_error(text: &str, e: &serde_json::Error) -> PusherError {
    if e.is_syntax() || e.is_eof() {
        PusherError::InvalidJson(format!("not valid JSON: {e}"))
    } else if !is_object(text) {
        PusherError::InvalidJson("the message must be a JSON object".to_owned())
    } else {
        // e.g. a duplicate field.
        PusherError::InvalidJson(e.to_string())
    }
}

/// A JSON string that borrows from the input when it has no escapes. serde's own
/// `Cow<str>` impl always allocates, and `#[serde(borrow)]` does not reach inside `Option`.
struct Str<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_str(V).map(Str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ClientMessage<'_>, PusherError> {
        parse_client_message(s)
    }

    fn is_borrowed(c: Option<&Cow<'_, str>>) -> bool {
        matches!(c, Some(Cow::Borrowed(_)))
    }

    #[test]
    fn ping_and_pong_as_pusher_js_sends_them() {
        assert_eq!(
            parse(r#"{"event":"pusher:ping","data":{}}"#),
            Ok(ClientMessage::Ping)
        );
        assert_eq!(
            parse(r#"{"event":"pusher:pong","data":{}}"#),
            Ok(ClientMessage::Pong)
        );
        assert_eq!(parse(r#"{"event":"pusher:ping"}"#), Ok(ClientMessage::Ping));
    }

    #[test]
    fn subscribe_with_object_data_borrows() {
        let text = r#"{"event":"pusher:subscribe","data":{"auth":"k:abc","channel":"presence-x","channel_data":"{\"user_id\":\"1\"}"}}"#;
        let msg = parse(text).unwrap();
        let ClientMessage::Subscribe {
            channel,
            auth,
            channel_data,
        } = &msg
        else {
            panic!("{msg:?}")
        };
        assert_eq!(channel, "presence-x");
        assert!(is_borrowed(Some(channel)));
        assert_eq!(auth.as_deref(), Some("k:abc"));
        assert!(is_borrowed(auth.as_ref()));
        // Escaped quotes inside channel_data force an owned copy, with the escapes decoded.
        assert_eq!(channel_data.as_deref(), Some(r#"{"user_id":"1"}"#));
    }

    #[test]
    fn subscribe_public_without_auth() {
        assert_eq!(
            parse(r#"{"event":"pusher:subscribe","data":{"channel":"my-channel"}}"#),
            Ok(ClientMessage::Subscribe {
                channel: "my-channel".into(),
                auth: None,
                channel_data: None
            })
        );
        // Explicit nulls count as absent.
        assert_eq!(
            parse(
                r#"{"event":"pusher:subscribe","data":{"channel":"c","auth":null,"channel_data":null}}"#
            ),
            Ok(ClientMessage::Subscribe {
                channel: "c".into(),
                auth: None,
                channel_data: None
            })
        );
    }

    #[test]
    fn subscribe_with_string_encoded_data() {
        let text =
            r#"{"event":"pusher:subscribe","data":"{\"channel\":\"private-a\",\"auth\":\"k:s\"}"}"#;
        assert_eq!(
            parse(text),
            Ok(ClientMessage::Subscribe {
                channel: "private-a".into(),
                auth: Some("k:s".into()),
                channel_data: None
            })
        );
    }

    #[test]
    fn unsubscribe_and_signin() {
        assert_eq!(
            parse(r#"{"event":"pusher:unsubscribe","data":{"channel":"c"}}"#),
            Ok(ClientMessage::Unsubscribe {
                channel: "c".into()
            })
        );
        assert_eq!(
            parse(
                r#"{"event":"pusher:signin","data":{"auth":"k:s","user_data":"{\"id\":\"1\"}"}}"#
            ),
            Ok(ClientMessage::Signin {
                auth: "k:s".into(),
                user_data: r#"{"id":"1"}"#.into()
            })
        );
    }

    #[test]
    fn client_event_keeps_data_raw() {
        let text =
            r#"{"event":"client-typing","data":{"a": [1, 2.50, "x"]},"channel":"private-chat"}"#;
        let msg = parse(text).unwrap();
        let ClientMessage::ClientEvent {
            event,
            channel,
            data,
        } = msg
        else {
            panic!()
        };
        assert_eq!(event, "client-typing");
        assert_eq!(channel, "private-chat");
        // Exactly as sent: whitespace and number formatting untouched.
        assert_eq!(data.get(), r#"{"a": [1, 2.50, "x"]}"#);
    }

    #[test]
    fn client_event_without_data_is_null() {
        let msg = parse(r#"{"event":"client-x","channel":"private-c"}"#).unwrap();
        let ClientMessage::ClientEvent { data, .. } = msg else {
            panic!()
        };
        assert_eq!(data.get(), "null");
    }

    #[test]
    fn client_event_needs_channel() {
        assert_eq!(
            parse(r#"{"event":"client-x","data":{}}"#),
            Err(PusherError::MissingField("channel"))
        );
        assert_eq!(
            parse(r#"{"event":"client-x","channel":7}"#),
            Err(PusherError::InvalidField {
                field: "channel",
                expected: "a string"
            })
        );
    }

    #[test]
    fn unknown_events() {
        assert_eq!(
            parse(r#"{"event":"pusher:whatever","data":{}}"#),
            Ok(ClientMessage::Unknown {
                event: "pusher:whatever".into()
            })
        );
        assert_eq!(
            parse(r#"{"event":"my-event","channel":"c","data":{}}"#),
            Ok(ClientMessage::Unknown {
                event: "my-event".into()
            })
        );
    }

    #[test]
    fn bad_json_says_so() {
        let err = parse("{not json").unwrap_err();
        assert!(
            matches!(&err, PusherError::InvalidJson(d) if d.starts_with("not valid JSON")),
            "{err:?}"
        );
        assert_eq!(err.code(), 4200);
        assert!(!err.closes_connection());
        assert!(matches!(parse(""), Err(PusherError::InvalidJson(_))));
        assert_eq!(
            parse("[1]"),
            Err(PusherError::InvalidJson(
                "the message must be a JSON object".into()
            ))
        );
    }

    #[test]
    fn missing_and_mistyped_fields() {
        assert_eq!(parse("{}"), Err(PusherError::MissingField("event")));
        assert_eq!(
            parse(r#"{"event":5}"#),
            Err(PusherError::InvalidField {
                field: "event",
                expected: "a string"
            })
        );
        assert_eq!(
            parse(r#"{"event":"pusher:subscribe"}"#),
            Err(PusherError::MissingField("data"))
        );
        assert_eq!(
            parse(r#"{"event":"pusher:subscribe","data":{}}"#),
            Err(PusherError::MissingField("channel"))
        );
        assert_eq!(
            parse(r#"{"event":"pusher:subscribe","data":{"channel":1}}"#),
            Err(PusherError::InvalidField {
                field: "channel",
                expected: "a string"
            })
        );
        assert_eq!(
            parse(
                r#"{"event":"pusher:subscribe","data":{"channel":"c","channel_data":{"user_id":1}}}"#
            ),
            Err(PusherError::InvalidField {
                field: "channel_data",
                expected: "a string"
            })
        );
        assert_eq!(
            parse(r#"{"event":"pusher:subscribe","data":"not json"}"#),
            Err(PusherError::InvalidField {
                field: "data",
                expected: "an object or a JSON-encoded object"
            })
        );
        assert_eq!(
            parse(r#"{"event":"pusher:subscribe","data":[1]}"#),
            Err(PusherError::InvalidField {
                field: "data",
                expected: "an object or a JSON-encoded object"
            })
        );
        assert_eq!(
            parse(r#"{"event":"pusher:signin","data":{"auth":"k:s"}}"#),
            Err(PusherError::MissingField("user_data"))
        );
    }

    #[test]
    fn deep_nesting_does_not_crash() {
        // serde_json skips over RawValue content without recursing, so deep client data is
        // passed through verbatim (still valid JSON) rather than overflowing the stack.
        let arr = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let deep = format!(r#"{{"event":"client-x","channel":"c","data":{arr}}}"#);
        let Ok(ClientMessage::ClientEvent { data, .. }) = parse(&deep) else {
            panic!()
        };
        assert_eq!(data.get(), arr);
        let deep = format!(r#"{{"event":"pusher:subscribe","data":{{"channel":{arr}}}}}"#);
        assert!(parse(&deep).is_err());
        let unclosed = format!(
            r#"{{"event":"client-x","channel":"c","data":{}"#,
            "[".repeat(100_000)
        );
        assert!(matches!(parse(&unclosed), Err(PusherError::InvalidJson(_))));
    }
}
