//! Pusher messages as complete server WebSocket frames, ready to queue on a connection.
//!
//! A frame is `Bytes` so one encoded event can be shared by every subscriber without a copy.
//! This module only frames what `encode` and `error` produce; it never sends anything.

use bytes::Bytes;

use super::error::PusherError;
use crate::proto::ws::{self, Opcode};

/// A server text frame carrying `json`.
pub fn text_frame(json: &str) -> Bytes {
    Bytes::from(ws::server_frame(Opcode::Text, json.as_bytes()))
}

/// A server close frame with `code` and `reason` (cut to fit a control frame).
pub fn close_frame(code: u16, reason: &str) -> Bytes {
    Bytes::from(ws::close_frame(code, reason))
}

/// The close frame that ends a connection because of `err`: its code, its message as reason.
pub fn close_frame_for(err: &PusherError) -> Bytes {
    close_frame(err.code(), &err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_frame_carries_the_code_and_fits_a_control_frame() {
        let frame = close_frame_for(&PusherError::OverCapacity);
        assert_eq!(frame[0], 0x88, "FIN + close");
        assert!(frame[1] <= 125, "control payloads are at most 125 bytes");
        assert_eq!(&frame[2..4], &4100u16.to_be_bytes());
        assert_eq!(text_frame("{}").as_ref(), b"\x81\x02{}");
    }
}
