//! Collection subscriptions over REST, sans-IO: the `POST /api/realtime/subscribe` body and
//! every refusal of that endpoint and of record ingestion, each with its status and a message
//! that says what to change.

use std::fmt;

use serde::Deserialize;

use crate::proto::filter::FilterError;
use crate::proto::http::Response;

/// Filtered subscriptions one connection may hold across collections.
pub const MAX_FILTERS_PER_CONNECTION: usize = 1000;

/// Most changes in one ingestion request.
pub const MAX_RECORDS_PER_REQUEST: usize = 1000;

/// The body of `POST /api/realtime/subscribe`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SubscribeRequest {
    /// The collection's name.
    pub collection: String,
    /// The socket to register, as the client received it (`123.456`).
    pub socket_id: String,
    /// The client's filter (PocketBase grammar); none or empty subscribes to every record the
    /// list rule allows.
    #[serde(default)]
    pub filter: Option<String>,
}

/// Parses the subscribe body.
pub fn parse_subscribe(body: &[u8]) -> Result<SubscribeRequest, RealtimeError> {
    serde_json::from_slice(body).map_err(|e| RealtimeError::BadBody(e.to_string()))
}

/// Why a subscription or an ingestion was refused.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RealtimeError {
    /// The body is not the documented JSON shape.
    BadBody(String),
    /// No valid Bearer token or Pusher signature.
    Unauthorized(String),
    /// The app has no collection of this name.
    UnknownCollection(String),
    /// The collection has neither a list rule nor `public = true`.
    NotServed(String),
    /// The client's filter does not parse or is over a limit.
    Filter(FilterError),
    /// The connection already holds [`MAX_FILTERS_PER_CONNECTION`] filtered subscriptions.
    TooManyFilters,
    /// No open connection has this socket id (or it belongs to another app).
    UnknownSocket(String),
    /// The core holding the socket did not answer in time.
    Unavailable,
    /// Between cores only: the socket's core holds no verdict for this Sanctum token of app
    /// (index) `.0`, so the asking core introspects it and asks again.
    SanctumUnverified(usize),
}

impl RealtimeError {
    /// The HTTP status this refusal is answered with.
    pub fn status(&self) -> u16 {
        match self {
            RealtimeError::BadBody(_) => 400,
            RealtimeError::Filter(e) => e.status(),
            RealtimeError::Unauthorized(_) | RealtimeError::SanctumUnverified(_) => 401,
            RealtimeError::NotServed(_) => 403,
            RealtimeError::UnknownCollection(_) | RealtimeError::UnknownSocket(_) => 404,
            RealtimeError::TooManyFilters => 429,
            RealtimeError::Unavailable => 503,
        }
    }

    /// The response: the status and `{"error": "<message>"}`.
    pub fn to_response(&self) -> Response {
        Response::error(self.status(), &self.to_string())
    }
}

impl fmt::Display for RealtimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RealtimeError::BadBody(why) => write!(f, "invalid body: {why}"),
            RealtimeError::Unauthorized(why) => f.write_str(why),
            RealtimeError::UnknownCollection(c) => write!(
                f,
                "unknown collection '{c}': list it under the app's collections in the configuration"
            ),
            RealtimeError::NotServed(c) => write!(
                f,
                "collection '{c}' has no list rule and is not public: configure list_rule or public = true"
            ),
            RealtimeError::Filter(e) => e.fmt(f),
            RealtimeError::TooManyFilters => write!(
                f,
                "this connection already holds {MAX_FILTERS_PER_CONNECTION} filtered subscriptions: unsubscribe from one first"
            ),
            RealtimeError::UnknownSocket(s) => write!(
                f,
                "no open connection of this app has socket_id '{s}': use the socket_id from pusher:connection_established"
            ),
            RealtimeError::Unavailable => {
                f.write_str("the connection's core did not answer in time; retry")
            }
            RealtimeError::SanctumUnverified(_) => {
                f.write_str("the Sanctum token could not be verified; retry")
            }
        }
    }
}

impl std::error::Error for RealtimeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subscribe_body_is_read_and_bad_bodies_are_400() {
        let ok = parse_subscribe(br#"{"collection":"posts","socket_id":"1.2","filter":"a = 1"}"#);
        assert_eq!(ok.unwrap().filter.as_deref(), Some("a = 1"));
        let no_socket = parse_subscribe(br#"{"collection":"posts"}"#).unwrap_err();
        assert_eq!(no_socket.status(), 400);
        assert!(no_socket.to_string().contains("socket_id"), "{no_socket}");
    }

    #[test]
    fn each_refusal_has_its_own_status() {
        assert_eq!(RealtimeError::TooManyFilters.status(), 429);
        assert_eq!(RealtimeError::NotServed("x".into()).status(), 403);
        assert_eq!(RealtimeError::UnknownSocket("1.2".into()).status(), 404);
        assert_eq!(RealtimeError::Unauthorized("no".into()).status(), 401);
    }
}
