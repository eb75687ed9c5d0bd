//! Bodies of `POST /apps/{id}/events` and `POST /apps/{id}/batch_events`, parsed without a DOM.
//!
//! Owns the body shape (`name`, `data`, `channels` or `channel`, optional `socket_id` and
//! `info`; `{"batch":[…]}` for batches) and the per-event limits. `data` is never parsed: it is
//! kept as the JSON literal that will be spliced into the outgoing frame, so a publish costs one
//! scan of the body. Channel names and socket ids are NOT validated here; the caller checks them
//! with the pusher module, which owns those rules.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::ApiError;

/// Per-event limits, from the app's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most channels one event may name (Pusher and the Node/PHP SDKs: 100).
    pub max_channels: usize,
    /// Longest event name, in characters (Pusher and the Node SDK: 200).
    pub max_event_name_len: usize,
    /// Largest `data`, in bytes: the app's max message size (Pusher default 10 KB).
    pub max_data_bytes: usize,
    /// Most events in one batch (Pusher: 10).
    pub max_batch: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_channels: 100,
            max_event_name_len: 200,
            max_data_bytes: 10_000,
            max_batch: 10,
        }
    }
}

/// One event to publish, as the REST body described it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRequest {
    /// The event name.
    pub name: String,
    /// The channels to publish on, at least one, in the order given.
    pub channels: Vec<String>,
    /// A JSON string literal (quotes and escapes included) to splice into the frame as `data`.
    pub data_literal: String,
    /// The connection to leave out, as sent (not yet validated).
    pub socket_id: Option<String>,
    /// Attributes the caller wants back (e.g. `user_count,subscription_count`), as sent.
    pub info: Option<String>,
}

/// A JSON string that borrows from the body when it has no escapes. serde's own `Cow<str>`
/// always allocates when nested in `Option`/`Vec`, so the borrow is done by hand.
struct Str<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl Str<'_> {
    fn into_string(self) -> String {
        self.0.into_owned()
    }
}

/// The fields of one event; unknown fields are ignored, as the SDKs may add their own.
#[derive(Deserialize)]
struct EventBody<'a> {
    #[serde(borrow)]
    name: Option<Str<'a>>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    #[serde(borrow)]
    channels: Option<Vec<Str<'a>>>,
    #[serde(borrow)]
    channel: Option<Str<'a>>,
    #[serde(borrow)]
    socket_id: Option<Str<'a>>,
    #[serde(borrow)]
    info: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct BatchBody<'a> {
    #[serde(borrow)]
    batch: Option<Vec<&'a RawValue>>,
}

fn invalid_json(e: serde_json::Error) -> ApiError {
    ApiError::InvalidJson(e.to_string())
}

/// Parses the body of `POST /apps/{id}/events`.
///
/// Takes `channels` (array) or, when it is absent, `channel` (string). `data` must be present
/// and not null; a JSON string is kept exactly as written, any other value is turned into a
/// JSON string of its text (Pusher and Reverb demand a string; sockudo accepts objects this
/// way, and it costs nothing to be lenient).
pub fn parse_event(body: &[u8], limits: &Limits) -> Result<EventRequest, ApiError> {
    let parsed: EventBody<'_> = serde_json::from_slice(body).map_err(invalid_json)?;
    event_from(parsed, limits)
}

/// Parses the body of `POST /apps/{id}/batch_events`: `{"batch":[event, …]}`.
///
/// Each event has the shape [`parse_event`] accepts (normally with a single `channel`). The
/// batch size is checked before any event is looked at; an event's error names its index.
pub fn parse_batch(body: &[u8], limits: &Limits) -> Result<Vec<EventRequest>, ApiError> {
    let parsed: BatchBody<'_> = serde_json::from_slice(body).map_err(invalid_json)?;
    let items = parsed.batch.ok_or(ApiError::MissingField("batch"))?;
    if items.is_empty() {
        return Err(ApiError::EmptyBatch);
    }
    if items.len() > limits.max_batch {
        return Err(ApiError::BatchTooLarge {
            count: items.len(),
            limit: limits.max_batch,
        });
    }
    items
        .into_iter()
        .enumerate()
        .map(|(index, raw)| {
            serde_json::from_str::<EventBody<'_>>(raw.get())
                .map_err(invalid_json)
                .and_then(|e| event_from(e, limits))
                .map_err(|error| ApiError::InBatch {
                    index,
                    error: Box::new(error),
                })
        })
        .collect()
}

fn event_from(body: EventBody<'_>, limits: &Limits) -> Result<EventRequest, ApiError> {
    let name = body
        .name
        .filter(|n| !n.0.is_empty())
        .ok_or(ApiError::MissingField("name"))?;
    let data = body.data.ok_or(ApiError::MissingField("data"))?;
    let channels: Vec<String> = match (body.channels, body.channel) {
        (Some(list), _) if list.is_empty() => return Err(ApiError::NoChannels),
        (Some(list), _) => list.into_iter().map(Str::into_string).collect(),
        (None, Some(one)) => vec![one.into_string()],
        (None, None) => return Err(ApiError::MissingField("channels")),
    };
    if channels.len() > limits.max_channels {
        return Err(ApiError::TooManyChannels {
            count: channels.len(),
            limit: limits.max_channels,
        });
    }
    let name_len = name.0.chars().count();
    if name_len > limits.max_event_name_len {
        return Err(ApiError::EventNameTooLong {
            len: name_len,
            limit: limits.max_event_name_len,
        });
    }
    let (data_literal, size) = data_literal(data)?;
    if size > limits.max_data_bytes {
        return Err(ApiError::PayloadTooLarge {
            size,
            limit: limits.max_data_bytes,
        });
    }
    Ok(EventRequest {
        name: name.into_string(),
        channels,
        data_literal,
        socket_id: body.socket_id.map(Str::into_string),
        info: body.info.map(Str::into_string),
    })
}

/// The literal to splice into the frame and the size `data` counts as against the limit.
///
/// For a string the size is its decoded length in bytes: the data the subscriber receives,
/// not the escaping the publisher's JSON encoder chose.
fn data_literal(raw: &RawValue) -> Result<(String, usize), ApiError> {
    let text = raw.get();
    if text.starts_with('"') {
        Ok((text.to_owned(), json_string_decoded_len(text)))
    } else {
        let literal = serde_json::to_string(text).map_err(invalid_json)?;
        Ok((literal, text.len()))
    }
}

/// The UTF-8 length of the string a valid JSON string literal decodes to, without decoding it.
fn json_string_decoded_len(literal: &str) -> usize {
    let inner = literal
        .get(1..literal.len().saturating_sub(1))
        .unwrap_or("")
        .as_bytes();
    let mut len = 0;
    let mut i = 0;
    while i < inner.len() {
        if inner[i] != b'\\' {
            len += 1;
            i += 1;
            continue;
        }
        if inner.get(i + 1) != Some(&b'u') {
            len += 1;
            i += 2;
            continue;
        }
        let unit = hex4(inner.get(i + 2..i + 6));
        let pair = (0xD800..0xDC00).contains(&unit)
            && inner.get(i + 6..i + 8) == Some(b"\\u")
            && (0xDC00..0xE000).contains(&hex4(inner.get(i + 8..i + 12)));
        if pair {
            len += 4;
            i += 12;
        } else {
            len += match unit {
                0..=0x7F => 1,
                0x80..=0x7FF => 2,
                _ => 3,
            };
            i += 6;
        }
    }
    len
}

fn hex4(digits: Option<&[u8]>) -> u32 {
    digits
        .and_then(|d| std::str::from_utf8(d).ok())
        .and_then(|s| u32::from_str_radix(s, 16).ok())
        .unwrap_or(0)
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
