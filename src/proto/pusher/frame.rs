//! Pusher messages as complete server WebSocket frames, ready to queue on a connection.
//!
//! A frame is `Bytes` so one encoded event can be shared by every subscriber without a copy.
//! This module only frames what `encode` and `error` produce; it never sends anything.

use bytes::Bytes;

use super::encode;
use super::error::PusherError;
use crate::proto::ws::{self, Opcode};

/// A server text frame carrying `json`.
pub fn text_frame(json: &str) -> Bytes {
    Bytes::from(ws::server_frame(Opcode::Text, json.as_bytes()))
}

/// A channel event (see [`super::encode::channel_event`]) as a server text frame, encoded in
/// one buffer behind room for its header: one allocation and no copy of the payload. `data`
/// is the event's data literal in pieces, spliced in order.
pub fn channel_event_frame(
    event: &str,
    channel: &str,
    data: &[&str],
    user_id: Option<&str>,
) -> Bytes {
    let mut buf = ws::server_frame_buffer(encode::channel_event_len(event, channel, data, user_id));
    encode::write_channel_event(&mut buf, event, channel, data, user_id);
    let start = ws::finish_server_frame(&mut buf, Opcode::Text);
    Bytes::from(buf).slice(start..)
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

    #[test]
    fn an_event_frame_is_the_event_json_framed() {
        let long = "x".repeat(300);
        for data in [
            vec![r#""{}""#],
            vec![r#""{\"a\":"#, "1", r#"}""#],
            vec![&long[..]],
        ] {
            let json = encode::channel_event("e\"v", "private-c", &data.concat(), Some("u"));
            let frame = channel_event_frame("e\"v", "private-c", &data, Some("u"));
            assert_eq!(frame, text_frame(&json));
        }
    }
}
