//! The one error type of the WebSocket layer and its mapping to close codes.
//!
//! Every way a peer can break RFC 6455 is a variant here, and each variant maps to exactly one
//! close code so the shell can answer with the right Close frame without inspecting the cause.
//! This module only describes failures; it never decides what to do about them (closing the
//! socket, logging) — that is the caller's job.

use std::fmt;

use super::close::code;

/// Why the WebSocket codec refused the peer's bytes.
///
/// Each variant maps to one close code through [`WsError::close_code`]. After any of these the
/// connection is unusable: the decoder refuses further input (see [`super::Decoder::decode`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WsError {
    /// A client sent a frame without a mask; RFC 6455 §5.1 requires every client frame to be
    /// masked. Close code 1002.
    UnmaskedClientFrame,
    /// A server sent a masked frame; RFC 6455 §5.1 forbids masking server frames. Close code 1002.
    MaskedServerFrame,
    /// One of the RSV1–RSV3 bits was set (the value holds the three bits, RSV1 highest) although
    /// no extension was negotiated. Close code 1002.
    ReservedBits(u8),
    /// The opcode is one of the reserved values 0x3–0x7 or 0xB–0xF. Close code 1002.
    ReservedOpcode(u8),
    /// A Close, Ping or Pong frame had FIN clear; control frames must not be fragmented.
    /// Close code 1002.
    FragmentedControlFrame,
    /// A control frame declared a payload longer than 125 bytes. Close code 1002.
    ControlFrameTooLong,
    /// A 64-bit payload length had its most significant bit set, which RFC 6455 §5.2 forbids.
    /// Close code 1002.
    LengthOverflow,
    /// A continuation frame arrived with no fragmented message open. Close code 1002.
    UnexpectedContinuation,
    /// A new Text or Binary frame arrived while a fragmented message was still open.
    /// Close code 1002.
    ExpectedContinuation,
    /// A text message is not valid UTF-8. Close code 1007.
    InvalidUtf8,
    /// A Close frame carried a status code that must not appear on the wire (RFC 6455 §7.4).
    /// Close code 1002.
    InvalidCloseCode(u16),
    /// A Close frame had a one-byte payload: too long to be empty, too short for a code.
    /// Close code 1002.
    InvalidClosePayload,
    /// A Close frame's reason text is not valid UTF-8. Close code 1007.
    InvalidCloseReason,
    /// A message (counting all its fragments so far) is larger than the configured limit.
    /// Detected from frame headers, before the payload is buffered. Close code 1009.
    MessageTooBig {
        /// The size the message reached (at least), in bytes.
        size: u64,
        /// The configured `max_message_size`, in bytes.
        limit: usize,
    },
}

impl WsError {
    /// Every close code a [`WsError`] is answered with, ascending (the metrics count them).
    pub const CLOSE_CODES: [u16; 3] = [
        code::PROTOCOL_ERROR,
        code::INVALID_PAYLOAD,
        code::MESSAGE_TOO_BIG,
    ];

    /// The WebSocket close code to send the peer for this error.
    pub fn close_code(&self) -> u16 {
        match self {
            WsError::InvalidUtf8 | WsError::InvalidCloseReason => code::INVALID_PAYLOAD,
            WsError::MessageTooBig { .. } => code::MESSAGE_TOO_BIG,
            WsError::UnmaskedClientFrame
            | WsError::MaskedServerFrame
            | WsError::ReservedBits(_)
            | WsError::ReservedOpcode(_)
            | WsError::FragmentedControlFrame
            | WsError::ControlFrameTooLong
            | WsError::LengthOverflow
            | WsError::UnexpectedContinuation
            | WsError::ExpectedContinuation
            | WsError::InvalidCloseCode(_)
            | WsError::InvalidClosePayload => code::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WsError::UnmaskedClientFrame => {
                f.write_str("client frame is not masked (RFC 6455 requires client masking)")
            }
            WsError::MaskedServerFrame => {
                f.write_str("server frame is masked (RFC 6455 forbids server masking)")
            }
            WsError::ReservedBits(bits) => write!(
                f,
                "reserved bits RSV1-3 = {bits:#05b} set, but no extension was negotiated"
            ),
            WsError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            WsError::FragmentedControlFrame => {
                f.write_str("control frame (close/ping/pong) has FIN clear; it must not be fragmented")
            }
            WsError::ControlFrameTooLong => {
                f.write_str("control frame payload exceeds the 125-byte maximum")
            }
            WsError::LengthOverflow => {
                f.write_str("64-bit payload length has its most significant bit set")
            }
            WsError::UnexpectedContinuation => {
                f.write_str("continuation frame without a fragmented message to continue")
            }
            WsError::ExpectedContinuation => f.write_str(
                "new text/binary frame while a fragmented message is still open (expected continuation)",
            ),
            WsError::InvalidUtf8 => f.write_str("text message is not valid UTF-8"),
            WsError::InvalidCloseCode(c) => {
                write!(f, "close frame carries status code {c}, which must not be sent")
            }
            WsError::InvalidClosePayload => {
                f.write_str("close frame payload of 1 byte (needs 0 or at least 2)")
            }
            WsError::InvalidCloseReason => f.write_str("close frame reason is not valid UTF-8"),
            WsError::MessageTooBig { size, limit } => write!(
                f,
                "message of {size} bytes exceeds the {limit}-byte limit (max_message_size)"
            ),
        }
    }
}

impl std::error::Error for WsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_the_rfc_categories() {
        assert_eq!(WsError::UnmaskedClientFrame.close_code(), 1002);
        assert_eq!(WsError::InvalidUtf8.close_code(), 1007);
        assert_eq!(WsError::InvalidCloseReason.close_code(), 1007);
        let big = WsError::MessageTooBig {
            size: 20000,
            limit: 10000,
        };
        assert_eq!(big.close_code(), 1009);
        for e in [
            WsError::UnmaskedClientFrame,
            WsError::InvalidUtf8,
            big.clone(),
        ] {
            assert!(WsError::CLOSE_CODES.contains(&e.close_code()), "{e:?}");
        }
        assert_eq!(
            big.to_string(),
            "message of 20000 bytes exceeds the 10000-byte limit (max_message_size)"
        );
    }
}
