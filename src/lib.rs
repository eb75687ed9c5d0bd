//! ringcast: a thread-per-core io_uring server for the Pusher Channels protocol v7.
//!
//! Map of the crate:
//! - [`proto`]: sans-IO protocol logic (WebSocket codec, HTTP heads, Pusher messages, signing).

pub mod proto;
