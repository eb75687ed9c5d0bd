//! Why a notification request (create, batch, get, list) was refused, with its HTTP status.
//!
//! The notification endpoints' error, beside [`ApiError`](crate::proto::api::ApiError) which
//! keeps owning request signing: each variant is one mistake a caller can make, maps to one
//! status, and its message says what to change, because it is all the diagnosis an API user
//! gets. It never decides anything about storage (unknown ids, a delivered notification's 409
//! are the handler's answers).

use std::fmt;

use crate::proto::http::Response;
use crate::proto::pusher::PusherError;
use crate::scheduler::SchedulerError;

/// Why a notification request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotificationError {
    /// The body is not JSON at all (syntax error, truncated, not UTF-8): 400.
    MalformedJson(String),
    /// The body is JSON, but a field has the wrong type or shape; serde's reason: 400.
    WrongType(String),
    /// A required field is absent or null: 400.
    MissingField(&'static str),
    /// Neither `user_id` nor `channel` was given: 400.
    MissingTarget,
    /// Both `user_id` and `channel` were given: 400.
    AmbiguousTarget,
    /// The target channel (given, or made from the app's template) breaks the naming rules: 400.
    InvalidChannel {
        /// The channel name.
        channel: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// `scheduled_at` is not an RFC 3339 timestamp with an offset: 400.
    InvalidScheduledAt(String),
    /// `scheduled_at` is now or in the past: 422.
    NotInFuture {
        /// The time requested, RFC 3339.
        scheduled_at: String,
        /// The server's time, RFC 3339.
        now: String,
    },
    /// `timezone` or `quiet_hours` is not usable: 400.
    Schedule(SchedulerError),
    /// `event` is empty or longer than the limit, in characters: 400.
    EventName {
        /// Characters in the name.
        len: usize,
        /// The most allowed.
        limit: usize,
    },
    /// `id` (the client's idempotency key) is empty, too long or not printable ASCII: 400.
    InvalidClientId,
    /// `data` must be a JSON object for the Laravel notification event: 400.
    DataNotObject,
    /// The data to deliver is larger than the app allows: 413.
    PayloadTooLarge {
        /// Bytes of the data as it would be delivered.
        size: usize,
        /// The most allowed.
        limit: usize,
    },
    /// `batch` is absent or empty: 400.
    EmptyBatch,
    /// More than the batch limit: 400.
    BatchTooLarge {
        /// Items in the batch.
        count: usize,
        /// The most allowed.
        limit: usize,
    },
    /// A `status` filter that is not one of the statuses: 400.
    InvalidStatus(String),
    /// A `limit` that is not a number from 1 to the maximum: 400.
    InvalidLimit {
        /// The value given.
        value: String,
        /// The most allowed.
        max: usize,
    },
    /// A `cursor` this server did not hand out: 400.
    InvalidCursor,
    /// A notification id in a path that this server cannot have issued: 404.
    UnknownId(String),
}

impl NotificationError {
    /// The HTTP status code this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            NotificationError::NotInFuture { .. } => 422,
            NotificationError::PayloadTooLarge { .. } => 413,
            NotificationError::UnknownId(_) => 404,
            _ => 400,
        }
    }

    /// The HTTP response for this error: its status and `{"error": "<message>"}`.
    pub fn to_response(&self) -> Response {
        Response::error(self.status(), &self.to_string())
    }

    /// The error for a serde failure: syntax problems are malformed JSON, the rest wrong types.
    pub(crate) fn from_json(e: serde_json::Error) -> Self {
        if e.is_data() {
            NotificationError::WrongType(e.to_string())
        } else {
            NotificationError::MalformedJson(e.to_string())
        }
    }
}

impl fmt::Display for NotificationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use NotificationError as E;
        match self {
            E::MalformedJson(why) => write!(
                f,
                "the request body is not valid JSON ({why}): send one UTF-8 JSON object"
            ),
            E::WrongType(why) => write!(
                f,
                "a field of the request body has the wrong type ({why}): see the \
                 notifications API for each field's type"
            ),
            E::MissingField(field) => write!(f, "the request body must have a \"{field}\" field"),
            E::MissingTarget => f.write_str(
                "no recipient: give \"user_id\" (delivered on the app's per-user channel) or \
                 \"channel\"",
            ),
            E::AmbiguousTarget => {
                f.write_str("both \"user_id\" and \"channel\" were given: give exactly one of them")
            }
            E::InvalidChannel { channel, reason } => {
                write!(f, "invalid channel name {channel:?}: {reason}")
            }
            E::InvalidScheduledAt(value) => write!(
                f,
                "\"scheduled_at\" {value:?} is not an RFC 3339 timestamp: write it like \
                 \"2026-05-01T09:30:00Z\" or \"2026-05-01T11:30:00+02:00\""
            ),
            E::NotInFuture { scheduled_at, now } => write!(
                f,
                "\"scheduled_at\" must be in the future: {scheduled_at} is not after the \
                 server's time {now}; publish through the events API to deliver now"
            ),
            E::Schedule(e) => write!(f, "{e}"),
            E::EventName { len, limit } => write!(
                f,
                "the event name is {len} characters long: it must have 1 to {limit}; omit \
                 \"event\" for the Laravel notification event"
            ),
            E::InvalidClientId => f.write_str(
                "\"id\" must be 1 to 200 printable ASCII characters: it is your idempotency key",
            ),
            E::DataNotObject => f.write_str(
                "\"data\" must be a JSON object for the Laravel notification event (Echo's \
                 .notification() receives its fields plus \"id\" and \"type\"); send an object, \
                 or name your own \"event\"",
            ),
            E::PayloadTooLarge { size, limit } => write!(
                f,
                "Payload too large: the notification data is {size} bytes, the limit for this \
                 app is {limit} bytes; send less data"
            ),
            E::EmptyBatch => f.write_str("\"batch\" is empty: send at least one notification"),
            E::BatchTooLarge { count, limit } => write!(
                f,
                "a batch may hold at most {limit} notifications, this one has {count}: split \
                 it into several batches"
            ),
            E::InvalidStatus(s) => write!(
                f,
                "unknown status {s:?}: use pending, delivered, failed or cancelled"
            ),
            E::InvalidLimit { value, max } => {
                write!(f, "limit {value:?} must be a whole number from 1 to {max}")
            }
            E::InvalidCursor => f.write_str(
                "the cursor is not one this server handed out: pass \"next_cursor\" from the \
                 previous page unchanged, or omit it for the first page",
            ),
            E::UnknownId(id) => write!(
                f,
                "no notification {id:?}: ids look like ntf_ followed by 26 letters and digits"
            ),
        }
    }
}

impl std::error::Error for NotificationError {}

impl From<SchedulerError> for NotificationError {
    fn from(e: SchedulerError) -> Self {
        NotificationError::Schedule(e)
    }
}

impl NotificationError {
    /// The error for a target channel refused by the pusher module's naming rules.
    pub(crate) fn channel(channel: &str, e: PusherError) -> Self {
        let reason = match e {
            PusherError::InvalidChannelName { reason } => reason,
            _ => "it is not a valid channel name",
        };
        NotificationError::InvalidChannel {
            channel: channel.to_owned(),
            reason,
        }
    }
}
