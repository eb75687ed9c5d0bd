//! Bodies of `POST /apps/{id}/notifications` and `POST /apps/{id}/notifications/batch`: parsed,
//! validated, and turned into what the scheduler stores and later publishes.
//!
//! Owns the request shape (`user_id` or `channel`, `event`, `data`, `scheduled_at`, `timezone`,
//! `respect_quiet_hours`, `quiet_hours`, `id`), the per-app channel template, the Laravel
//! notification payload (`data` plus `id` and `type`, what Echo's `.notification()` expects) and
//! the moved `deliver_at`. Sans-IO: the server's time and the id's randomness are parameters; it
//! never stores, publishes or reads a clock. Request signing stays in [`super::signature`],
//! channel-name rules in the pusher module, quiet hours in the scheduler.

pub mod answer;
pub mod error;
pub mod id;

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::proto::pusher::channel_kind;
use crate::scheduler::{time_zone, QuietHours, QuietPolicy};

pub use answer::{
    batch_body, cancel_response, created_body, decode_cursor, list_body, parse_list_query, Created,
    ListQuery, NotificationView, Status,
};
pub use error::NotificationError;
pub use id::{is_valid_id, new_id, parse_id, ID_PREFIX};

/// The event Laravel broadcasts notifications as; Echo's `.notification(cb)` listens for it.
pub const DEFAULT_EVENT: &str = r"Illuminate\Notifications\Events\BroadcastNotificationCreated";
/// The per-user channel when the app configures none.
pub const DEFAULT_CHANNEL_TEMPLATE: &str = "private-notification.{user_id}";
/// The placeholder a channel template replaces with the user id.
pub const USER_ID_PLACEHOLDER: &str = "{user_id}";
/// `type` in the Laravel payload when `data` has none (Laravel puts the notification's class
/// name there; ringcast has no class, so callers that care send their own).
pub const DEFAULT_TYPE: &str = "ringcast.notification";
/// Most notifications in one batch request.
pub const MAX_BATCH: usize = 1_000;
/// Longest event name and client idempotency key, in characters (the events API's event limit).
const MAX_NAME_LEN: usize = 200;

/// An app's notification settings.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationSettings {
    /// The channel for `user_id` targets, with [`USER_ID_PLACEHOLDER`] where the id goes.
    pub channel_template: String,
    /// Quiet hours and the default time zone.
    pub quiet: QuietPolicy,
    /// Largest delivered `data`, in bytes: the app's max message size.
    pub max_data_bytes: usize,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        NotificationSettings {
            channel_template: DEFAULT_CHANNEL_TEMPLATE.to_owned(),
            quiet: QuietPolicy::default(),
            max_data_bytes: 10_000,
        }
    }
}

/// One accepted notification, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationRequest {
    /// The server's id for it (`ntf_…`), also inside a Laravel payload's `data.id`.
    pub id: String,
    /// The caller's idempotency key, if it sent one.
    pub client_id: Option<String>,
    /// The channel to publish on.
    pub channel: String,
    /// The user it targets, when it came as `user_id`.
    pub user_id: Option<String>,
    /// The event name.
    pub event: String,
    /// A JSON string literal (quotes and escapes included) to splice into the frame as `data`,
    /// like [`super::EventRequest::data_literal`].
    pub data_literal: String,
    /// When the caller asked for it.
    pub scheduled_at: Timestamp,
    /// When it goes out: `scheduled_at`, moved out of quiet hours.
    pub deliver_at: Timestamp,
    /// The IANA zone it named, if any (quiet hours used the app's default otherwise).
    pub timezone: Option<String>,
}

/// The request fields; unknown fields are ignored, as SDKs may add their own.
#[derive(Deserialize)]
struct Body<'a> {
    user_id: Option<Value>,
    channel: Option<String>,
    event: Option<String>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    scheduled_at: Option<String>,
    timezone: Option<String>,
    respect_quiet_hours: Option<bool>,
    quiet_hours: Option<WindowBody>,
    id: Option<String>,
}

/// A per-request quiet-hours window, `{"start":"22:00","end":"07:00"}`.
#[derive(Deserialize)]
struct WindowBody {
    start: String,
    end: String,
}

#[derive(Deserialize)]
struct BatchBody<'a> {
    #[serde(borrow)]
    batch: Option<Vec<&'a RawValue>>,
}

/// Parses and validates one notification. `now` is the server's time, `random` the entropy
/// for its id.
pub fn parse_create(
    body: &[u8],
    settings: &NotificationSettings,
    now: Timestamp,
    random: u128,
) -> Result<NotificationRequest, NotificationError> {
    let parsed: Body<'_> = serde_json::from_slice(body).map_err(NotificationError::from_json)?;
    validate(parsed, settings, now, random)
}

/// Parses a batch, `{"batch":[notification, …]}` of at most [`MAX_BATCH`], answering per item:
/// one bad item does not refuse the others. `random` is called once per item that parses.
pub fn parse_batch(
    body: &[u8],
    settings: &NotificationSettings,
    now: Timestamp,
    random: &mut impl FnMut() -> u128,
) -> Result<Vec<Result<NotificationRequest, NotificationError>>, NotificationError> {
    let parsed: BatchBody<'_> =
        serde_json::from_slice(body).map_err(NotificationError::from_json)?;
    let items = parsed
        .batch
        .ok_or(NotificationError::MissingField("batch"))?;
    if items.is_empty() {
        return Err(NotificationError::EmptyBatch);
    }
    if items.len() > MAX_BATCH {
        return Err(NotificationError::BatchTooLarge {
            count: items.len(),
            limit: MAX_BATCH,
        });
    }
    Ok(items
        .into_iter()
        .map(|raw| {
            serde_json::from_str::<Body<'_>>(raw.get())
                .map_err(NotificationError::from_json)
                .and_then(|b| validate(b, settings, now, random()))
        })
        .collect())
}

fn validate(
    body: Body<'_>,
    settings: &NotificationSettings,
    now: Timestamp,
    random: u128,
) -> Result<NotificationRequest, NotificationError> {
    let (channel, user_id) = target(body.user_id, body.channel, &settings.channel_template)?;
    let event = body.event.unwrap_or_else(|| DEFAULT_EVENT.to_owned());
    let len = event.chars().count();
    if len == 0 || len > MAX_NAME_LEN {
        return Err(NotificationError::EventName {
            len,
            limit: MAX_NAME_LEN,
        });
    }
    let client_id = body.id.map(client_id).transpose()?;
    let scheduled_at = scheduled_at(body.scheduled_at, now)?;
    let zone = body.timezone.as_deref().map(time_zone).transpose()?;
    let window = match (body.respect_quiet_hours.unwrap_or(true), body.quiet_hours) {
        (false, _) => None,
        (true, Some(w)) => Some(QuietHours::parse(&w.start, &w.end)?),
        (true, None) => settings.quiet.window,
    };
    let deliver_at = settings
        .quiet
        .deliver_at(scheduled_at, window.as_ref(), zone.as_ref());
    let data = body.data.ok_or(NotificationError::MissingField("data"))?;
    let id = new_id(now, random);
    let data_literal = delivered_data(data, &event, &id, settings.max_data_bytes)?;
    Ok(NotificationRequest {
        id,
        client_id,
        channel,
        user_id,
        event,
        data_literal,
        scheduled_at,
        deliver_at,
        timezone: body.timezone,
    })
}

/// The channel and user id from exactly one of `user_id` (through the template) and `channel`.
fn target(
    user_id: Option<Value>,
    channel: Option<String>,
    template: &str,
) -> Result<(String, Option<String>), NotificationError> {
    let (channel, user_id) = match (user_id.filter(|v| !v.is_null()), channel) {
        (Some(_), Some(_)) => return Err(NotificationError::AmbiguousTarget),
        (None, None) => return Err(NotificationError::MissingTarget),
        (None, Some(channel)) => (channel, None),
        (Some(user), None) => {
            // Laravel user ids are usually integers; both spellings name the same channel.
            let user = match user {
                Value::String(s) if !s.is_empty() => s,
                Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
                _ => {
                    return Err(NotificationError::WrongType(
                        "\"user_id\" must be a non-empty string or an integer".to_owned(),
                    ))
                }
            };
            (template.replace(USER_ID_PLACEHOLDER, &user), Some(user))
        }
    };
    channel_kind(&channel).map_err(|e| NotificationError::channel(&channel, e))?;
    Ok((channel, user_id))
}

fn client_id(id: String) -> Result<String, NotificationError> {
    let printable = id.bytes().all(|b| b.is_ascii_graphic());
    if id.is_empty() || id.len() > MAX_NAME_LEN || !printable {
        return Err(NotificationError::InvalidClientId);
    }
    Ok(id)
}

/// `scheduled_at` as an instant strictly after `now`.
fn scheduled_at(text: Option<String>, now: Timestamp) -> Result<Timestamp, NotificationError> {
    let text = text.ok_or(NotificationError::MissingField("scheduled_at"))?;
    let at: Timestamp = text
        .parse()
        .map_err(|_| NotificationError::InvalidScheduledAt(text.clone()))?;
    if at <= now {
        return Err(NotificationError::NotInFuture {
            scheduled_at: text,
            now: now.to_string(),
        });
    }
    Ok(at)
}

/// The `data` literal to publish, checked against `limit`.
///
/// For the Laravel event it is `data`'s fields plus `id` (the notification id, replacing any
/// sent, as Laravel's `broadcastWith` does) and `type` (kept when sent, else [`DEFAULT_TYPE`]).
/// Other events get `id` added when `data` is an object, so receivers can drop a redelivery;
/// any other `data` is delivered as sent.
fn delivered_data(
    raw: &RawValue,
    event: &str,
    id: &str,
    limit: usize,
) -> Result<String, NotificationError> {
    let laravel = event == DEFAULT_EVENT;
    let value: Value = serde_json::from_str(raw.get()).map_err(NotificationError::from_json)?;
    let text = match value {
        Value::Object(fields) => notification_object(fields, id, laravel)?,
        _ if laravel => return Err(NotificationError::DataNotObject),
        Value::Null => return Err(NotificationError::MissingField("data")),
        Value::String(s) => s,
        other => other.to_string(),
    };
    if text.len() > limit {
        return Err(NotificationError::PayloadTooLarge {
            size: text.len(),
            limit,
        });
    }
    serde_json::to_string(&text).map_err(NotificationError::from_json)
}

fn notification_object(
    mut fields: Map<String, Value>,
    id: &str,
    laravel: bool,
) -> Result<String, NotificationError> {
    fields.insert("id".to_owned(), Value::String(id.to_owned()));
    if laravel {
        match fields.get("type") {
            None => {
                fields.insert("type".to_owned(), Value::String(DEFAULT_TYPE.to_owned()));
            }
            Some(Value::String(_)) => {}
            Some(_) => {
                return Err(NotificationError::WrongType(
                    "\"data.type\" must be a string (Echo's notification type)".to_owned(),
                ))
            }
        }
    }
    Ok(Value::Object(fields).to_string())
}

#[cfg(test)]
mod tests;
