//! The Pusher protocol layer's one error type and its mapping to Pusher error codes.
//!
//! Owns [`PusherError`]: every reason the protocol layer refuses a client, the Pusher code it is
//! reported with (the table in the Pusher Channels Protocol docs, "Error Codes"), whether the
//! connection must be closed, and a message telling the client what to change. It never decides
//! *how* the error is sent (pusher:error, subscription_error or a close frame): that is the
//! shell's job, helped by [`PusherError::closes_connection`] and the encoders in `encode`.

use std::fmt;

/// Why the Pusher layer refused something a client did.
///
/// Codes follow the Pusher protocol table: 4000–4099 close and must not be retried unchanged,
/// 4100–4199 close and retry with back-off, 4200–4299 close and retry at once, 4300+ are
/// reported without closing. Errors caused by one bad message (bad JSON, a missing field, a bad
/// channel name or signature) are reported and the connection stays open; for those we use the
/// same codes Laravel Reverb sends (4200 "Invalid message format", 4009 for failed auth) so
/// clients written against Reverb see what they expect.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PusherError {
    /// 4000: the app only accepts TLS; the client should reconnect with wss://.
    SslOnly,
    /// 4001: no app has the key in `/app/{key}`.
    AppNotFound,
    /// 4003: the app exists but is disabled.
    AppDisabled,
    /// 4004: the app has reached its connection limit.
    OverConnectionQuota,
    /// 4005: the WebSocket path is not `/app/{key}`.
    PathNotFound,
    /// 4006: the `protocol` query parameter is not an integer.
    InvalidVersionFormat,
    /// 4007: the `protocol` query parameter names a version we do not speak (we speak 7).
    UnsupportedProtocol,
    /// 4008: no `protocol` query parameter was given.
    NoProtocolVersion,
    /// 4009: the connection is not authorised (e.g. origin not allowed); closes the connection.
    Unauthorized,
    /// 4100: the server is over capacity; the client should back off and retry.
    OverCapacity,
    /// 4200: the server asks the client to reconnect at once (e.g. shutdown or rebalance).
    GenericReconnect,
    /// 4201: a ping was sent and no pong came back in time.
    PongNotReceived,
    /// 4202: the connection was idle for too long.
    ClosedAfterInactivity,
    /// 4301: the client sent client events faster than the app allows.
    RateLimited,
    /// 4301: the app does not accept client events at all (Reverb's code and wording).
    ClientEventsDisabled,
    /// 4009: a client event was sent on a channel this connection is not subscribed to (Reverb's
    /// code and wording); not closing, the client only loses that event.
    ClientEventNotMember,
    /// 4301: a client event was refused for another reason, e.g. a public channel, an event name
    /// without the `client-` prefix or data too large. The reason says which.
    ClientEventRejected {
        /// What the client must change.
        reason: &'static str,
    },
    /// 4200: the message is not valid JSON or not a JSON object; carries what is wrong and,
    /// for syntax errors, serde_json's line and column.
    InvalidJson(String),
    /// 4200: the message lacks a field that its event requires (e.g. `channel`).
    MissingField(&'static str),
    /// 4200: a field has the wrong JSON type (e.g. `channel` is a number).
    InvalidField {
        /// The field's name as it appears on the wire.
        field: &'static str,
        /// What it should have been.
        expected: &'static str,
    },
    /// 4200: the channel name breaks Pusher's naming rules; the reason says which.
    InvalidChannelName {
        /// What is wrong with the name.
        reason: &'static str,
    },
    /// 4200: a socket id is not of the form `digits.digits`.
    InvalidSocketId,
    /// 4009: a subscription's `auth` does not match the channel, socket id and channel data.
    /// Sent as `pusher:subscription_error` on that channel; the connection stays open.
    InvalidSignature,
    /// 4009: a `pusher:signin`'s `auth` does not match the socket id and user data.
    InvalidUserAuth,
}

impl PusherError {
    /// The Pusher error code this error is reported with. Every variant has one; the `Option`
    /// leaves room for errors Pusher sends with `"code": null`.
    pub fn code(&self) -> Option<u16> {
        use PusherError::*;
        Some(match self {
            SslOnly => 4000,
            AppNotFound => 4001,
            AppDisabled => 4003,
            OverConnectionQuota => 4004,
            PathNotFound => 4005,
            InvalidVersionFormat => 4006,
            UnsupportedProtocol => 4007,
            NoProtocolVersion => 4008,
            Unauthorized => 4009,
            OverCapacity => 4100,
            GenericReconnect => 4200,
            PongNotReceived => 4201,
            ClosedAfterInactivity => 4202,
            RateLimited | ClientEventsDisabled | ClientEventRejected { .. } => 4301,
            ClientEventNotMember | InvalidSignature | InvalidUserAuth => 4009,
            InvalidJson(_)
            | MissingField(_)
            | InvalidField { .. }
            | InvalidChannelName { .. }
            | InvalidSocketId => 4200,
        })
    }

    /// Whether the connection must be closed (with [`code`](Self::code) as the close code)
    /// after reporting this error. Connection-level failures close; errors about one message
    /// (bad JSON, a bad subscription, a refused client event) do not, so one bad message never
    /// costs the client its other subscriptions.
    pub fn closes_connection(&self) -> bool {
        use PusherError::*;
        matches!(
            self,
            SslOnly
                | AppNotFound
                | AppDisabled
                | OverConnectionQuota
                | PathNotFound
                | InvalidVersionFormat
                | UnsupportedProtocol
                | NoProtocolVersion
                | Unauthorized
                | OverCapacity
                | GenericReconnect
                | PongNotReceived
                | ClosedAfterInactivity
        )
    }
}

impl fmt::Display for PusherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use PusherError::*;
        match self {
            SslOnly => f.write_str("Application only accepts SSL connections, reconnect using wss://"),
            AppNotFound => f.write_str("Application does not exist: check the app key in the URL /app/{key}"),
            AppDisabled => f.write_str("Application disabled"),
            OverConnectionQuota => f.write_str("Application is over connection quota"),
            PathNotFound => f.write_str("Path not found: connect to /app/{key}"),
            InvalidVersionFormat => f.write_str("Invalid version string format: `protocol` must be an integer"),
            UnsupportedProtocol => f.write_str("Unsupported protocol version: use protocol=7"),
            NoProtocolVersion => f.write_str("No protocol version supplied: add ?protocol=7 to the URL"),
            Unauthorized => f.write_str("Connection is unauthorized"),
            OverCapacity => f.write_str("Over capacity: reconnect after backing off"),
            GenericReconnect => f.write_str("Generic reconnect immediately"),
            PongNotReceived => f.write_str("Pong reply not received: reply to pusher:ping with pusher:pong"),
            ClosedAfterInactivity => f.write_str("Closed after inactivity"),
            RateLimited => f.write_str("Client event rejected due to rate limit"),
            ClientEventsDisabled => f.write_str("The app does not have client messaging enabled."),
            ClientEventNotMember => f.write_str("The client is not a member of the specified channel."),
            ClientEventRejected { reason } => write!(f, "Client event rejected: {reason}"),
            InvalidJson(detail) => write!(f, "Invalid message format: {detail}"),
            MissingField(field) => write!(f, "Invalid message format: missing field `{field}`"),
            InvalidField { field, expected } => {
                write!(f, "Invalid message format: field `{field}` must be {expected}")
            }
            InvalidChannelName { reason } => write!(f, "Invalid channel name: {reason}"),
            InvalidSocketId => f.write_str("Invalid socket id: expected two integers joined by a dot, e.g. 1234.5678"),
            InvalidSignature => f.write_str("Invalid signature: expected HMAC SHA256 hex digest of socket_id:channel[:channel_data], as key:signature"),
            InvalidUserAuth => f.write_str("Invalid user authentication signature: expected key:HMAC SHA256 hex digest of socket_id::user::user_data"),
        }
    }
}

impl std::error::Error for PusherError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_pusher_table() {
        assert_eq!(PusherError::SslOnly.code(), Some(4000));
        assert_eq!(PusherError::AppNotFound.code(), Some(4001));
        assert_eq!(PusherError::AppDisabled.code(), Some(4003));
        assert_eq!(PusherError::OverConnectionQuota.code(), Some(4004));
        assert_eq!(PusherError::PathNotFound.code(), Some(4005));
        assert_eq!(PusherError::InvalidVersionFormat.code(), Some(4006));
        assert_eq!(PusherError::UnsupportedProtocol.code(), Some(4007));
        assert_eq!(PusherError::NoProtocolVersion.code(), Some(4008));
        assert_eq!(PusherError::Unauthorized.code(), Some(4009));
        assert_eq!(PusherError::OverCapacity.code(), Some(4100));
        assert_eq!(PusherError::GenericReconnect.code(), Some(4200));
        assert_eq!(PusherError::PongNotReceived.code(), Some(4201));
        assert_eq!(PusherError::ClosedAfterInactivity.code(), Some(4202));
        assert_eq!(PusherError::RateLimited.code(), Some(4301));
        assert_eq!(PusherError::ClientEventsDisabled.code(), Some(4301));
        assert_eq!(PusherError::InvalidJson("x".into()).code(), Some(4200));
        assert_eq!(PusherError::InvalidSignature.code(), Some(4009));
    }

    #[test]
    fn only_connection_level_errors_close() {
        for e in [
            PusherError::AppNotFound,
            PusherError::OverCapacity,
            PusherError::PongNotReceived,
            PusherError::Unauthorized,
        ] {
            assert!(e.closes_connection(), "{e:?}");
        }
        for e in [
            PusherError::InvalidJson("x".into()),
            PusherError::MissingField("channel"),
            PusherError::InvalidChannelName { reason: "r" },
            PusherError::InvalidSignature,
            PusherError::RateLimited,
            PusherError::ClientEventNotMember,
        ] {
            assert!(!e.closes_connection(), "{e:?}");
        }
    }

    #[test]
    fn messages_say_what_to_change() {
        assert_eq!(
            PusherError::MissingField("channel").to_string(),
            "Invalid message format: missing field `channel`"
        );
        assert!(PusherError::NoProtocolVersion
            .to_string()
            .contains("protocol=7"));
    }
}
