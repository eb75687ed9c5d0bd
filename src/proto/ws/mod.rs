//! RFC 6455 WebSocket, sans-IO: the opening handshake, frames, masking, close codes, and a
//! stateful decoder from bytes to messages.
//!
//! This layer owns the wire format and its rules and nothing else: it never touches a socket,
//! a runtime or a clock, never negotiates extensions (permessage-deflate is always declined),
//! and never decides policy such as when to ping or how to answer a Close. The shell feeds it
//! the bytes it read and writes the bytes it is given.

pub mod close;
pub mod decoder;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod mask;

#[cfg(test)]
mod proptests;

pub use close::{
    close_frame, close_payload, code, is_valid_received_code, parse_close_payload, CloseFrame,
};
pub use decoder::{Decoder, Message, Role};
pub use error::WsError;
pub use frame::{
    encode_frame, encoded_len, finish_server_frame, parse_header, server_frame,
    server_frame_buffer, FrameHeader, Opcode, MAX_CONTROL_PAYLOAD, MAX_SERVER_HEADER,
};
pub use handshake::{
    accept_key, check_upgrade, client_request, response_101, HandshakeError, Upgrade,
};
pub use mask::apply_mask;
