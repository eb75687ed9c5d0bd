//! The REST API layer's error: every way a signed request or its body can be refused.
//!
//! Each variant maps to exactly one HTTP status (401 authentication, 400 bad request, 413 data
//! too large, as the Pusher HTTP API reference lists them), and its message tells the API user
//! what to change. The server SDKs pass the response body to the application verbatim, so the
//! message is the whole diagnosis a developer gets.

use std::fmt;

use crate::proto::http::{QueryError, Response};

/// Why a REST request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiError {
    /// A required authentication query parameter is absent: 401.
    MissingParam(&'static str),
    /// `auth_key` is not this app's key: 401.
    InvalidAuthKey,
    /// `auth_timestamp` is not a whole number of seconds: 401.
    InvalidTimestamp,
    /// `auth_timestamp` is more than 600 s from the server clock: 401.
    /// `skew_secs` is the request's timestamp minus the server's (positive: client ahead).
    TimestampExpired {
        /// Request timestamp minus server time, in seconds.
        skew_secs: i64,
    },
    /// `auth_version` is not `1.0`: 401.
    InvalidAuthVersion,
    /// `auth_signature` is not the HMAC-SHA256 of the request under the app secret: 401.
    InvalidSignature,
    /// `body_md5` is not the MD5 of the body received: 401.
    BodyMd5Mismatch,
    /// The query string has a malformed percent-escape or is not UTF-8: 400.
    BadQuery(QueryError),
    /// The body is not UTF-8 JSON of the expected shape; serde's reason: 400.
    InvalidJson(String),
    /// A required body field is absent, null or empty: 400.
    MissingField(&'static str),
    /// `channels` is an empty array: 400.
    NoChannels,
    /// More channels than the limit in one event: 400.
    TooManyChannels {
        /// Channels in the request.
        count: usize,
        /// The most allowed.
        limit: usize,
    },
    /// The event name is longer than the limit, in characters: 400.
    EventNameTooLong {
        /// Characters in the name.
        len: usize,
        /// The most allowed.
        limit: usize,
    },
    /// The event's `data` is larger than the app's message size limit: 413.
    PayloadTooLarge {
        /// Bytes of `data` (decoded string length).
        size: usize,
        /// The most allowed.
        limit: usize,
    },
    /// More events in one batch than the limit: 400.
    BatchTooLarge {
        /// Events in the batch.
        count: usize,
        /// The most allowed.
        limit: usize,
    },
    /// `batch` is an empty array: 400.
    EmptyBatch,
    /// One event of a batch was refused; the status is that event's error's status.
    InBatch {
        /// Zero-based position of the event in `batch`.
        index: usize,
        /// Why that event was refused.
        error: Box<ApiError>,
    },
}

impl ApiError {
    /// The HTTP status code this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::MissingParam(_)
            | ApiError::InvalidAuthKey
            | ApiError::InvalidTimestamp
            | ApiError::TimestampExpired { .. }
            | ApiError::InvalidAuthVersion
            | ApiError::InvalidSignature
            | ApiError::BodyMd5Mismatch => 401,
            ApiError::PayloadTooLarge { .. } => 413,
            ApiError::InBatch { error, .. } => error.status(),
            ApiError::BadQuery(_)
            | ApiError::InvalidJson(_)
            | ApiError::MissingField(_)
            | ApiError::NoChannels
            | ApiError::TooManyChannels { .. }
            | ApiError::EventNameTooLong { .. }
            | ApiError::BatchTooLarge { .. }
            | ApiError::EmptyBatch => 400,
        }
    }

    /// The HTTP response for this error: its status and `{"error": "<message>"}`.
    pub fn to_response(&self) -> Response {
        Response::error(self.status(), &self.to_string())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::MissingParam(p) => write!(
                f,
                "missing query parameter {p}: sign the request with auth_key, auth_timestamp, \
                 auth_version, body_md5 (when there is a body) and auth_signature"
            ),
            ApiError::InvalidAuthKey => f.write_str(
                "auth_key is not the key of this app: use the app key configured for this app id",
            ),
            ApiError::InvalidTimestamp => {
                f.write_str("auth_timestamp must be the current Unix time in whole seconds")
            }
            ApiError::TimestampExpired { skew_secs } => write!(
                f,
                "auth_timestamp is {} s {} server time, more than the 600 s allowed: \
                 synchronise the clock of the publishing host (NTP)",
                skew_secs.unsigned_abs(),
                if *skew_secs > 0 { "ahead of" } else { "behind" }
            ),
            ApiError::InvalidAuthVersion => f.write_str("auth_version must be 1.0"),
            ApiError::InvalidSignature => f.write_str(
                "invalid auth_signature: it must be the hex HMAC-SHA256, keyed by the app secret, \
                 of \"METHOD\\nPATH\\nQUERY\" where QUERY is every other query parameter, \
                 keys lowercased, sorted by key, joined as key=value with '&', values not \
                 URL-encoded; check the app secret",
            ),
            ApiError::BodyMd5Mismatch => f.write_str(
                "body_md5 is not the MD5 hex digest of the request body: hash exactly the bytes \
                 sent as the body",
            ),
            ApiError::BadQuery(e) => write!(f, "{e}"),
            ApiError::InvalidJson(why) => write!(
                f,
                "request body is not valid JSON of the expected shape ({why}); send UTF-8 JSON \
                 with Content-Type: application/json"
            ),
            ApiError::MissingField(field) => {
                write!(
                    f,
                    "the request body must have a non-empty \"{field}\" field"
                )
            }
            ApiError::NoChannels => {
                f.write_str("\"channels\" is empty: name at least one channel, or use \"channel\"")
            }
            ApiError::TooManyChannels { count, limit } => write!(
                f,
                "an event may be published to at most {limit} channels, this one names {count}: \
                 split it into several requests"
            ),
            ApiError::EventNameTooLong { len, limit } => write!(
                f,
                "event name is {len} characters long, the limit is {limit}: use a shorter name"
            ),
            ApiError::PayloadTooLarge { size, limit } => write!(
                f,
                "Payload too large: event data is {size} bytes, the limit for this app is \
                 {limit} bytes; send less data or raise the app's max message size"
            ),
            ApiError::BatchTooLarge { count, limit } => write!(
                f,
                "a batch may hold at most {limit} events, this one has {count}: split it into \
                 several batches"
            ),
            ApiError::EmptyBatch => f.write_str("\"batch\" is empty: send at least one event"),
            ApiError::InBatch { index, error } => write!(f, "batch[{index}]: {error}"),
        }
    }
}

impl std::error::Error for ApiError {}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        ApiError::BadQuery(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_pusher_reference() {
        assert_eq!(ApiError::InvalidSignature.status(), 401);
        assert_eq!(ApiError::MissingParam("auth_key").status(), 401);
        assert_eq!(ApiError::TimestampExpired { skew_secs: -601 }.status(), 401);
        assert_eq!(ApiError::InvalidJson("x".into()).status(), 400);
        assert_eq!(
            ApiError::PayloadTooLarge { size: 2, limit: 1 }.status(),
            413
        );
        let nested = ApiError::InBatch {
            index: 3,
            error: Box::new(ApiError::PayloadTooLarge { size: 2, limit: 1 }),
        };
        assert_eq!(nested.status(), 413);
        assert!(nested
            .to_string()
            .starts_with("batch[3]: Payload too large"));
    }

    #[test]
    fn to_response_carries_status_and_message() {
        let e = ApiError::TimestampExpired { skew_secs: -700 };
        let r = e.to_response();
        assert_eq!(r.status, 401);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["error"], e.to_string());
        assert!(e.to_string().contains("700 s behind"));
    }
}
