//! The Pusher protocol layer's one error type and its mapping to Pusher error codes.
//!
//! Owns [`PusherError`]: every reason the protocol layer refuses a client, the Pusher code it is
//! reported with (the table in the Pusher Channels Protocol docs, "Error Codes"), whether the
//! connection must be closed, and a message telling the client what to change. It never decides
//! *how* the error is sent (pusher:error, subscription_error or a close frame): that is the
//! shell's job, helped by [`PusherError::closes_connection`] and the encoders in `encode`.

use std::fmt;

/// Declares [`Code`] and its [`Code::ALL`] list from one table, so the list of codes the
/// metrics count can never drift from the codes errors are sent with.
macro_rules! codes {
    ($($(#[doc = $doc:literal])* $name:ident = $value:literal,)*) => {
        /// Every Pusher error code ringcast sends, from the Pusher protocol's table.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u16)]
        pub enum Code {
            $($(#[doc = $doc])* $name = $value,)*
        }

        impl Code {
            /// Every code, ascending.
            pub const ALL: &'static [Code] = &[$(Code::$name),*];
        }
    };
}

codes! {
    /// 4001: no app has the key in `/app/{key}`.
    AppNotFound = 4001,
    /// 4004: the app has reached its connection limit.
    OverConnectionQuota = 4004,
    /// 4006: the `protocol` query parameter is not an integer.
    InvalidVersionFormat = 4006,
    /// 4007: the `protocol` query parameter names a version we do not speak.
    UnsupportedProtocol = 4007,
    /// 4008: no `protocol` query parameter was given.
    NoProtocolVersion = 4008,
    /// 4009: not authorised (origin, signatures, sign-in, termination by the app).
    Unauthorized = 4009,
    /// 4100: over capacity; reconnect after backing off.
    OverCapacity = 4100,
    /// 4200: reconnect at once; Reverb also reports malformed messages with it.
    Reconnect = 4200,
    /// 4201: a ping went unanswered.
    PongNotReceived = 4201,
    /// 4301: a client went over a rate or sent a refused client event.
    RateLimited = 4301,
}

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
    /// 4001: no app has the key in `/app/{key}`.
    AppNotFound,
    /// 4004: the app has reached its connection limit.
    OverConnectionQuota,
    /// 4006: the `protocol` query parameter is not an integer.
    InvalidVersionFormat,
    /// 4007: the `protocol` query parameter names a version we do not speak (we speak 5 to 7).
    UnsupportedProtocol,
    /// 4008: no `protocol` query parameter was given.
    NoProtocolVersion,
    /// 4009: the browser's `Origin` is not in the app's `allowed_origins`; closes.
    Unauthorized,
    /// 4009: the app requires sign-in and the connection did not sign in in time; closes.
    SigninTimeout,
    /// 4009: the app closed every connection of the signed-in user
    /// (`terminate_connections`); closes, and pusher-js does not reconnect on its own.
    Terminated,
    /// 4100: the client read so slowly that its outbound queue went over its cap; closes.
    OverCapacity,
    /// 4200: the server is shutting down; the client should reconnect at once. Closes.
    ShuttingDown,
    /// 4201: a ping was sent and no pong came back in time; closes.
    PongNotReceived,
    /// 4301: the client sent client events faster than the app allows.
    RateLimited,
    /// 4301: the client sent more messages of any kind in one second than the app allows; the
    /// excess is dropped.
    MessageRateExceeded {
        /// The app's `max_messages_per_second`.
        limit: u32,
    },
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
    /// 4200: the event is neither a `pusher:` event this server knows nor a `client-` event.
    UnknownEvent(String),
    /// 4200: the channel name breaks Pusher's naming rules; the reason says which.
    InvalidChannelName {
        /// What is wrong with the name.
        reason: &'static str,
    },
    /// 4200: a socket id is not of the form `digits.digits`.
    InvalidSocketId,
    /// 4009: a `pusher:signin`'s `auth` does not match the socket id and user data.
    InvalidUserAuth,
    /// 4009: a sign-in names another user than the one connection authentication proved; the
    /// text names both.
    UserMismatch(String),
}

impl PusherError {
    /// The Pusher error code this error is reported (and, if it closes, closed) with.
    pub fn code(&self) -> u16 {
        self.kind() as u16
    }

    /// The entry of the code table this error is reported with.
    pub fn kind(&self) -> Code {
        use PusherError::*;
        match self {
            AppNotFound => Code::AppNotFound,
            OverConnectionQuota => Code::OverConnectionQuota,
            InvalidVersionFormat => Code::InvalidVersionFormat,
            UnsupportedProtocol => Code::UnsupportedProtocol,
            NoProtocolVersion => Code::NoProtocolVersion,
            Unauthorized | SigninTimeout | Terminated | ClientEventNotMember | InvalidUserAuth
            | UserMismatch(_) => Code::Unauthorized,
            OverCapacity => Code::OverCapacity,
            PongNotReceived => Code::PongNotReceived,
            RateLimited
            | MessageRateExceeded { .. }
            | ClientEventsDisabled
            | ClientEventRejected { .. } => Code::RateLimited,
            ShuttingDown
            | InvalidJson(_)
            | MissingField(_)
            | InvalidField { .. }
            | UnknownEvent(_)
            | InvalidChannelName { .. }
            | InvalidSocketId => Code::Reconnect,
        }
    }

    /// Whether the connection must be closed (with [`code`](Self::code) as the close code)
    /// after reporting this error. Connection-level failures close; errors about one message
    /// (bad JSON, a bad subscription, a refused client event) do not, so one bad message never
    /// costs the client its other subscriptions.
    pub fn closes_connection(&self) -> bool {
        use PusherError::*;
        matches!(
            self,
            AppNotFound
                | OverConnectionQuota
                | InvalidVersionFormat
                | UnsupportedProtocol
                | NoProtocolVersion
                | Unauthorized
                | SigninTimeout
                | Terminated
                | OverCapacity
                | ShuttingDown
                | PongNotReceived
        )
    }
}

impl fmt::Display for PusherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use PusherError::*;
        match self {
            AppNotFound => f.write_str("Application does not exist: check the app key in the URL /app/{key}"),
            OverConnectionQuota => f.write_str("Application is over connection quota"),
            InvalidVersionFormat => f.write_str("Invalid version string format: `protocol` must be an integer"),
            UnsupportedProtocol => f.write_str("Unsupported protocol version: use protocol=7"),
            NoProtocolVersion => f.write_str("No protocol version supplied: add ?protocol=7 to the URL"),
            Unauthorized => f.write_str("Connection is unauthorized: the Origin is not in the app's allowed_origins"),
            SigninTimeout => f.write_str("Connection not signed in within user_authentication_timeout: call pusher.signin()"),
            Terminated => f.write_str("Connection terminated by the app (terminate_connections)"),
            OverCapacity => f.write_str("Over capacity: the outbound queue went over its cap because the client read too slowly; reconnect after backing off"),
            ShuttingDown => f.write_str("Server shutting down: reconnect"),
            PongNotReceived => f.write_str("Pong reply not received: reply to pusher:ping with pusher:pong"),
            RateLimited => f.write_str("Client event rejected due to rate limit"),
            MessageRateExceeded { limit } => write!(f, "too many messages: at most {limit} per second per connection (max_messages_per_second); the excess is dropped"),
            ClientEventsDisabled => f.write_str("The app does not have client messaging enabled."),
            ClientEventNotMember => f.write_str("The client is not a member of the specified channel."),
            ClientEventRejected { reason } => write!(f, "Client event rejected: {reason}"),
            InvalidJson(detail) => write!(f, "Invalid message format: {detail}"),
            MissingField(field) => write!(f, "Invalid message format: missing field `{field}`"),
            InvalidField { field, expected } => {
                write!(f, "Invalid message format: field `{field}` must be {expected}")
            }
            UnknownEvent(event) => write!(f, "unknown event '{event}': Pusher protocol 7 events start with pusher: or client-"),
            InvalidChannelName { reason } => write!(f, "Invalid channel name: {reason}"),
            InvalidSocketId => f.write_str("Invalid socket id: expected two integers joined by a dot, e.g. 1234.5678"),
            InvalidUserAuth => f.write_str("Invalid user authentication signature: expected key:HMAC SHA256 hex digest of socket_id::user::user_data"),
            UserMismatch(detail) => f.write_str(detail),
        }
    }
}

impl std::error::Error for PusherError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_pusher_table() {
        assert_eq!(PusherError::AppNotFound.code(), 4001);
        assert_eq!(PusherError::OverConnectionQuota.code(), 4004);
        assert_eq!(PusherError::InvalidVersionFormat.code(), 4006);
        assert_eq!(PusherError::UnsupportedProtocol.code(), 4007);
        assert_eq!(PusherError::NoProtocolVersion.code(), 4008);
        assert_eq!(PusherError::Unauthorized.code(), 4009);
        assert_eq!(PusherError::Terminated.code(), 4009);
        assert_eq!(PusherError::SigninTimeout.code(), 4009);
        assert_eq!(PusherError::OverCapacity.code(), 4100);
        assert_eq!(PusherError::ShuttingDown.code(), 4200);
        assert_eq!(PusherError::PongNotReceived.code(), 4201);
        assert_eq!(PusherError::RateLimited.code(), 4301);
        assert_eq!(PusherError::MessageRateExceeded { limit: 5 }.code(), 4301);
        assert_eq!(PusherError::ClientEventsDisabled.code(), 4301);
        assert_eq!(PusherError::InvalidJson("x".into()).code(), 4200);
        assert_eq!(PusherError::UnknownEvent("x".into()).code(), 4200);
        assert_eq!(PusherError::InvalidUserAuth.code(), 4009);
    }

    #[test]
    fn the_code_list_is_ascending_and_has_every_code_once() {
        let codes: Vec<u16> = Code::ALL.iter().map(|&c| c as u16).collect();
        assert!(codes.windows(2).all(|w| w[0] < w[1]), "{codes:?}");
        assert!(codes.contains(&PusherError::Terminated.code()));
    }

    #[test]
    fn only_connection_level_errors_close() {
        for e in [
            PusherError::AppNotFound,
            PusherError::OverCapacity,
            PusherError::PongNotReceived,
            PusherError::Unauthorized,
            PusherError::Terminated,
            PusherError::ShuttingDown,
        ] {
            assert!(e.closes_connection(), "{e:?}");
        }
        for e in [
            PusherError::InvalidJson("x".into()),
            PusherError::MissingField("channel"),
            PusherError::InvalidChannelName { reason: "r" },
            PusherError::InvalidUserAuth,
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
