//! The Pusher Channels protocol v7, sans IO: messages, channel rules, signatures and errors.
//!
//! Owns everything that gives Pusher meaning to a WebSocket text message, both directions:
//! parsing client messages (`message`), encoding server messages (`encode`) and framing them
//! (`frame`), channel name rules (`channel`), presence data (`presence`), socket ids
//! (`socket_id`), auth signatures (`auth`), the REST `info=` attributes (`info`) and the error
//! codes (`error`), and every per-connection rule as a state machine (`session`). It never
//! touches sockets, clocks or shared state: the shell in `src/shard` owns connections, the
//! channel index and the clock, feeds each connection's session plain values and the time, and
//! carries out the effects it returns.

pub mod auth;
pub mod channel;
pub mod encode;
pub mod error;
pub mod frame;
pub mod info;
pub mod message;
pub mod presence;
pub mod session;
pub mod socket_id;

pub use auth::{
    channel_auth, channel_signature, user_signature, verify_channel_auth, verify_user_auth,
};
pub use channel::{
    channel_kind, is_cache_channel, server_to_user_id, ChannelKind, MAX_CHANNEL_NAME_LEN,
};
pub use encode::{
    cache_miss, channel_event, channel_event_raw, connection_established, error, error_for,
    member_added, member_removed, ping, pong, signin_success, subscription_error,
    subscription_succeeded, watchlist_event, write_channel_event,
};
pub use error::PusherError;
pub use frame::{channel_event_frame, close_frame, close_frame_for, text_frame};
pub use message::{parse_client_message, ClientMessage};
pub use presence::{parse_channel_data, presence_data, PresenceMember, MAX_USER_INFO_BYTES};
pub use socket_id::SocketId;

#[cfg(test)]
mod proptests;
