//! The stateful, sans-IO message decoder: bytes in a `BytesMut` → WebSocket messages.
//!
//! Owns what spans frames: the role's masking rule, reassembly of fragmented messages, the
//! message size limit (enforced from headers, before any payload is buffered), UTF-8 validity
//! of text (checked incrementally so a bad fragment fails at once), and the terminal states
//! after Close or an error. It never reads sockets or clocks and never writes: answering Pings
//! and Closes is the shell's job.

use bytes::{Buf, Bytes, BytesMut};

use super::close::{parse_close_payload, CloseFrame};
use super::error::WsError;
use super::frame::{parse_header, FrameHeader, Opcode};
use super::mask::apply_mask;

/// The most `decode` reserves ahead for a frame whose payload has not arrived yet.
const RESERVE_HINT_CAP: usize = 64 * 1024;

/// Which end of the connection this decoder sits on; it decides the masking rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// We are the server: every incoming frame must be masked.
    Server,
    /// We are the client: incoming frames must not be masked.
    Client,
}

/// One complete message (or control frame) received from the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message; the bytes are guaranteed to be valid UTF-8.
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A Ping; the shell should answer with a Pong carrying the same payload.
    Ping(Bytes),
    /// A Pong.
    Pong(Bytes),
    /// A Close, with its status and reason when the peer gave one.
    Close(Option<CloseFrame>),
}

/// Whether a fragmented message is text (needs UTF-8 checks) or binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    Binary,
}

/// A fragmented message whose final frame has not arrived yet.
#[derive(Debug)]
struct Partial {
    kind: Kind,
    payload: BytesMut,
    /// How many leading bytes of `payload` are known to be complete, valid UTF-8. Only the few
    /// bytes of a split character after it are checked again when the next fragment arrives.
    utf8_valid: usize,
}

/// Where the decoder stands.
#[derive(Debug)]
enum State {
    Open,
    /// A Close was returned; the stream is finished.
    Closed,
    /// An error was returned; it is returned again for every later call.
    Failed(WsError),
}

/// Decodes WebSocket messages from the bytes the shell has read.
///
/// Terminal behaviour: after returning `Message::Close`, `decode` returns `Ok(None)` forever and
/// leaves any bytes after the Close frame in the buffer untouched (RFC 6455 §5.5.1: nothing
/// after a Close is processed). After returning an error, `decode` returns that same error on
/// every later call, so a caller that loops cannot accidentally carry on.
#[derive(Debug)]
pub struct Decoder {
    role: Role,
    max_message_size: usize,
    partial: Option<Partial>,
    state: State,
}

impl Decoder {
    /// A decoder for `role` that refuses messages larger than `max_message_size` bytes.
    pub fn new(role: Role, max_message_size: usize) -> Self {
        Decoder {
            role,
            max_message_size,
            partial: None,
            state: State::Open,
        }
    }

    /// Changes the size limit for frames not yet started.
    pub fn set_max_message_size(&mut self, n: usize) {
        self.max_message_size = n;
    }

    /// Consumes complete frames from the front of `buf` and returns the next message.
    ///
    /// `Ok(None)` means more bytes are needed (a partial frame stays in `buf`; when its header
    /// has arrived, `buf` is reserved towards the frame's full size, at most 64 KiB ahead).
    /// Call repeatedly until `Ok(None)`: one read may hold several messages. Control frames that
    /// arrive between the fragments of a message are returned as they arrive. The common case,
    /// one unfragmented frame, is zero-copy: the payload is split off `buf`, unmasked in place
    /// and frozen. See the type docs for what happens after a Close or an error.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, WsError> {
        match &self.state {
            State::Open => {}
            State::Closed => return Ok(None),
            State::Failed(e) => return Err(e.clone()),
        }
        let result = self.decode_open(buf);
        match &result {
            Err(e) => {
                self.state = State::Failed(e.clone());
                self.partial = None;
            }
            Ok(Some(Message::Close(_))) => {
                self.state = State::Closed;
                self.partial = None;
            }
            Ok(_) => {}
        }
        result
    }

    fn decode_open(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, WsError> {
        // Each turn consumes one frame; only non-final fragments loop without returning.
        loop {
            let Some(header) = parse_header(buf)? else {
                return Ok(None);
            };
            self.check_mask(&header)?;
            let payload_len = self.check_size_and_sequence(&header)?;
            let total = header.header_len.saturating_add(payload_len);
            if buf.len() < total {
                // A hint so a big frame is read with few reallocations, capped so a bare
                // header cannot make an idle connection allocate its whole message limit.
                buf.reserve((total - buf.len()).min(RESERVE_HINT_CAP));
                return Ok(None);
            }
            buf.advance(header.header_len);
            let mut payload = buf.split_to(payload_len);
            if let Some(key) = header.mask {
                apply_mask(&mut payload, key, 0);
            }
            if let Some(message) = self.on_frame(header.opcode, header.fin, payload)? {
                return Ok(Some(message));
            }
        }
    }

    fn check_mask(&self, header: &FrameHeader) -> Result<(), WsError> {
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) => Err(WsError::UnmaskedClientFrame),
            (Role::Client, true) => Err(WsError::MaskedServerFrame),
            _ => Ok(()),
        }
    }

    /// Checks the frame against the fragmentation state and the size limit, from the header
    /// alone, and returns the payload length as a `usize`.
    fn check_size_and_sequence(&self, header: &FrameHeader) -> Result<usize, WsError> {
        let already = match (header.opcode, &self.partial) {
            // Control frames are ≤ 125 bytes (checked by parse_header) and never count.
            (op, _) if op.is_control() => 0,
            (Opcode::Continuation, None) => return Err(WsError::UnexpectedContinuation),
            (Opcode::Continuation, Some(p)) => p.payload.len() as u64,
            (_, Some(_)) => return Err(WsError::ExpectedContinuation),
            (_, None) => 0,
        };
        let size = already.saturating_add(header.payload_len);
        let too_big = WsError::MessageTooBig {
            size,
            limit: self.max_message_size,
        };
        if !header.opcode.is_control() && size > self.max_message_size as u64 {
            return Err(too_big);
        }
        // Cannot fail after the check above (data ≤ limit: usize, control ≤ 125), but a u64 that
        // does not fit memory is exactly a message too big.
        usize::try_from(header.payload_len).map_err(|_| too_big)
    }

    /// Handles one complete, unmasked frame; returns a message when one is complete.
    fn on_frame(
        &mut self,
        opcode: Opcode,
        fin: bool,
        payload: BytesMut,
    ) -> Result<Option<Message>, WsError> {
        let kind = match opcode {
            Opcode::Ping => return Ok(Some(Message::Ping(payload.freeze()))),
            Opcode::Pong => return Ok(Some(Message::Pong(payload.freeze()))),
            Opcode::Close => return Ok(Some(Message::Close(parse_close_payload(&payload)?))),
            Opcode::Text => Kind::Text,
            Opcode::Binary => Kind::Binary,
            Opcode::Continuation => return self.on_continuation(fin, &payload),
        };
        if fin {
            // The hot path: the payload is already in place; no copy.
            return finish(kind, payload).map(Some);
        }
        let mut partial = Partial {
            kind,
            payload,
            utf8_valid: 0,
        };
        check_utf8_prefix(&mut partial)?;
        self.partial = Some(partial);
        Ok(None)
    }

    fn on_continuation(&mut self, fin: bool, payload: &[u8]) -> Result<Option<Message>, WsError> {
        let Some(partial) = self.partial.as_mut() else {
            return Err(WsError::UnexpectedContinuation);
        };
        partial.payload.extend_from_slice(payload);
        check_utf8_prefix(partial)?;
        if !fin {
            return Ok(None);
        }
        match self.partial.take() {
            Some(p) => finish(p.kind, p.payload).map(Some),
            None => Err(WsError::UnexpectedContinuation),
        }
    }
}

/// Turns a complete message payload into a `Message`, validating text.
fn finish(kind: Kind, payload: BytesMut) -> Result<Message, WsError> {
    match kind {
        Kind::Binary => Ok(Message::Binary(payload.freeze())),
        Kind::Text => match std::str::from_utf8(&payload) {
            Ok(_) => Ok(Message::Text(payload.freeze())),
            Err(_) => Err(WsError::InvalidUtf8),
        },
    }
}

/// Fails as soon as a text message's bytes so far are definitely not UTF-8, while allowing a
/// character to be split across fragments (Autobahn 6.x sends text one byte per frame).
fn check_utf8_prefix(partial: &mut Partial) -> Result<(), WsError> {
    if partial.kind != Kind::Text {
        return Ok(());
    }
    let unchecked = partial
        .payload
        .get(partial.utf8_valid..)
        .unwrap_or_default();
    match std::str::from_utf8(unchecked) {
        Ok(s) => partial.utf8_valid += s.len(),
        // error_len() == None: the input merely ends inside a character; more may complete it.
        Err(e) if e.error_len().is_none() => partial.utf8_valid += e.valid_up_to(),
        Err(_) => return Err(WsError::InvalidUtf8),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::ws::close::close_payload;
    use crate::proto::ws::frame::encode_frame;

    const KEY: Option<[u8; 4]> = Some([1, 2, 3, 4]);

    fn frame(opcode: Opcode, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_frame(&mut out, opcode, fin, payload, KEY);
        out
    }

    fn decode_all(d: &mut Decoder, bytes: &[u8]) -> Result<Vec<Message>, WsError> {
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(m) = d.decode(&mut buf)? {
            out.push(m);
        }
        Ok(out)
    }

    fn server() -> Decoder {
        Decoder::new(Role::Server, 1 << 16)
    }

    #[test]
    fn single_masked_text_frame() {
        let msgs = decode_all(&mut server(), &frame(Opcode::Text, true, b"hello")).unwrap();
        assert_eq!(msgs, vec![Message::Text(Bytes::from_static(b"hello"))]);
    }

    #[test]
    fn unmasked_client_frame_is_1002() {
        let bytes = [0x81, 0x02, b'h', b'i'];
        let err = decode_all(&mut server(), &bytes).unwrap_err();
        assert_eq!(err, WsError::UnmaskedClientFrame);
        assert_eq!(err.close_code(), 1002);
    }

    #[test]
    fn client_role_rejects_masked_and_accepts_unmasked() {
        let mut d = Decoder::new(Role::Client, 100);
        let err = decode_all(&mut d, &frame(Opcode::Text, true, b"x")).unwrap_err();
        assert_eq!(err, WsError::MaskedServerFrame);
        let mut d = Decoder::new(Role::Client, 100);
        let msgs = decode_all(&mut d, &[0x82, 0x01, 7]).unwrap();
        assert_eq!(msgs, vec![Message::Binary(Bytes::from_static(&[7]))]);
    }

    #[test]
    fn rsv_fragmented_ping_and_long_ping_are_1002() {
        let mut rsv = frame(Opcode::Text, true, b"x");
        rsv[0] |= 0x40;
        let mut frag_ping = frame(Opcode::Ping, true, b"x");
        frag_ping[0] &= 0x7F;
        let mut long_ping = Vec::new();
        encode_frame(&mut long_ping, Opcode::Ping, true, &[0; 126], KEY);
        for bytes in [rsv, frag_ping, long_ping] {
            assert_eq!(
                decode_all(&mut server(), &bytes).unwrap_err().close_code(),
                1002
            );
        }
    }

    #[test]
    fn bad_utf8_is_1007() {
        let err = decode_all(&mut server(), &frame(Opcode::Text, true, &[0xC3, 0x28])).unwrap_err();
        assert_eq!(err, WsError::InvalidUtf8);
        assert_eq!(err.close_code(), 1007);
    }

    #[test]
    fn truncated_utf8_at_message_end_is_1007() {
        let mut bytes = frame(Opcode::Text, false, b"ok");
        bytes.extend(frame(Opcode::Continuation, true, &[0xE2, 0x82]));
        let err = decode_all(&mut server(), &bytes).unwrap_err();
        assert_eq!(err.close_code(), 1007);
    }

    #[test]
    fn bad_utf8_in_first_fragment_fails_before_the_message_ends() {
        let mut d = server();
        let mut buf = BytesMut::from(&frame(Opcode::Text, false, &[b'a', 0xFF])[..]);
        assert_eq!(d.decode(&mut buf), Err(WsError::InvalidUtf8));
    }

    #[test]
    fn char_split_across_fragments_is_fine() {
        let euro = "€".as_bytes();
        let mut bytes = Vec::new();
        bytes.extend(frame(Opcode::Text, false, &euro[..1]));
        bytes.extend(frame(Opcode::Continuation, false, &euro[1..2]));
        bytes.extend(frame(Opcode::Continuation, true, &euro[2..]));
        let msgs = decode_all(&mut server(), &bytes).unwrap();
        assert_eq!(msgs, vec![Message::Text(Bytes::from_static(euro))]);
    }

    #[test]
    fn oversize_is_1009_before_the_payload_is_buffered() {
        let mut d = Decoder::new(Role::Server, 10_000);
        // Only the header of a 20,000-byte frame: the error must come without the payload.
        let full = frame(Opcode::Binary, true, &vec![0; 20_000]);
        let mut buf = BytesMut::from(&full[..8]);
        let err = d.decode(&mut buf).unwrap_err();
        assert_eq!(
            err.to_string(),
            "message of 20000 bytes exceeds the 10000-byte limit (max_message_size)"
        );
        assert_eq!(err.close_code(), 1009);
    }

    #[test]
    fn oversize_is_cumulative_across_fragments() {
        let mut d = Decoder::new(Role::Server, 10);
        let mut bytes = frame(Opcode::Binary, false, &[0; 6]);
        bytes.extend(frame(Opcode::Continuation, true, &[0; 6]));
        let err = decode_all(&mut d, &bytes).unwrap_err();
        assert_eq!(
            err,
            WsError::MessageTooBig {
                size: 12,
                limit: 10
            }
        );
        let mut d = Decoder::new(Role::Server, 12);
        assert_eq!(decode_all(&mut d, &bytes).unwrap().len(), 1);
    }

    #[test]
    fn set_max_message_size_applies_to_later_frames() {
        let mut d = Decoder::new(Role::Server, 2);
        d.set_max_message_size(5);
        assert!(decode_all(&mut d, &frame(Opcode::Binary, true, b"12345")).is_ok());
    }

    #[test]
    fn interleaved_ping_inside_fragmented_text() {
        let mut bytes = frame(Opcode::Text, false, b"Hel");
        bytes.extend(frame(Opcode::Ping, true, b"p"));
        bytes.extend(frame(Opcode::Continuation, true, b"lo"));
        let msgs = decode_all(&mut server(), &bytes).unwrap();
        assert_eq!(
            msgs,
            vec![
                Message::Ping(Bytes::from_static(b"p")),
                Message::Text(Bytes::from_static(b"Hello")),
            ]
        );
    }

    #[test]
    fn continuation_without_start_is_1002() {
        let err = decode_all(&mut server(), &frame(Opcode::Continuation, true, b"x")).unwrap_err();
        assert_eq!(err, WsError::UnexpectedContinuation);
        assert_eq!(err.close_code(), 1002);
    }

    #[test]
    fn new_data_frame_inside_fragmented_message_is_1002() {
        let mut bytes = frame(Opcode::Text, false, b"a");
        bytes.extend(frame(Opcode::Text, true, b"b"));
        let err = decode_all(&mut server(), &bytes).unwrap_err();
        assert_eq!(err, WsError::ExpectedContinuation);
    }

    #[test]
    fn close_is_parsed_and_terminal() {
        let mut d = server();
        let mut bytes = frame(Opcode::Close, true, &close_payload(1000, "done"));
        let trailing = frame(Opcode::Text, true, b"ignored");
        bytes.extend(&trailing);
        let mut buf = BytesMut::from(&bytes[..]);
        let close = CloseFrame {
            code: 1000,
            reason: "done".into(),
        };
        assert_eq!(d.decode(&mut buf), Ok(Some(Message::Close(Some(close)))));
        assert_eq!(d.decode(&mut buf), Ok(None));
        assert_eq!(&buf[..], &trailing[..]);
    }

    #[test]
    fn invalid_close_payloads() {
        let cases: [(&[u8], u16); 3] = [
            (&[3], 1002),
            (&[0x03, 0xED], 1002),
            (&[0x03, 0xE8, 0xFF], 1007),
        ];
        for (payload, code) in cases {
            let err = decode_all(&mut server(), &frame(Opcode::Close, true, payload)).unwrap_err();
            assert_eq!(err.close_code(), code);
        }
        let msgs = decode_all(&mut server(), &frame(Opcode::Close, true, b"")).unwrap();
        assert_eq!(msgs, vec![Message::Close(None)]);
    }

    #[test]
    fn errors_are_sticky() {
        let mut d = server();
        let mut buf = BytesMut::from(&[0x81u8, 0x00][..]);
        assert_eq!(d.decode(&mut buf), Err(WsError::UnmaskedClientFrame));
        let mut good = BytesMut::from(&frame(Opcode::Text, true, b"x")[..]);
        assert_eq!(d.decode(&mut good), Err(WsError::UnmaskedClientFrame));
    }

    #[test]
    fn partial_frame_stays_in_the_buffer() {
        let mut d = server();
        let bytes = frame(Opcode::Binary, true, &[5; 300]);
        let mut buf = BytesMut::from(&bytes[..100]);
        assert_eq!(d.decode(&mut buf), Ok(None));
        assert_eq!(buf.len(), 100);
        assert!(buf.capacity() >= bytes.len());
        buf.extend_from_slice(&bytes[100..]);
        assert_eq!(
            d.decode(&mut buf),
            Ok(Some(Message::Binary(vec![5; 300].into())))
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn reserve_hint_is_capped() {
        let mut d = Decoder::new(Role::Server, 10 << 20);
        let mut header = Vec::new();
        encode_frame(&mut header, Opcode::Binary, true, &vec![0; 5 << 20], KEY);
        let mut buf = BytesMut::from(&header[..14]);
        assert_eq!(d.decode(&mut buf), Ok(None));
        assert!(buf.capacity() <= 14 + RESERVE_HINT_CAP);
    }

    #[test]
    fn single_frame_is_zero_copy() {
        let mut d = server();
        let bytes = frame(Opcode::Binary, true, &[9; 64]);
        let mut buf = BytesMut::from(&bytes[..]);
        let start = buf.as_ptr() as usize;
        let Some(Message::Binary(b)) = d.decode(&mut buf).unwrap() else {
            panic!("expected a binary message");
        };
        // The payload points into the original read buffer, just past the 6-byte header.
        assert_eq!(b.as_ptr() as usize, start + 6);
    }
}
