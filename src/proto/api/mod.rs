//! The Pusher HTTP (REST) API without I/O: request authentication and event bodies.
//!
//! Owns what makes a REST request acceptable: its signature (`auth_*`, `body_md5`, ±600 s) and
//! the shape and limits of `events` / `batch_events` bodies and of scheduled `notifications`. It
//! never reads a clock (callers pass `now_unix`), never touches a socket, and leaves
//! channel-name and socket-id rules to the pusher module. Handlers in `src/api` route requests
//! and call into here.

pub mod error;
pub mod events;
pub mod notifications;
pub mod realtime;
pub mod records;
mod records_body;
pub mod signature;
pub mod webhooks;

pub use error::ApiError;
pub use events::{parse_batch, parse_event, EventRequest, Limits};
pub use signature::{
    body_md5_hex, sign_request, string_to_sign, verify_request, verify_signed, SigningKey,
};
