//! RFC 6455 §5.2 frame headers: parsing the header at the front of a buffer, and encoding frames.
//!
//! Owns the bit layout (FIN, RSV, opcode, MASK, 7/16/64-bit lengths, masking key) and the rules
//! a header can be judged by on its own: no RSV bits without extensions, no reserved opcodes,
//! control frames unfragmented and at most 125 bytes. It never tracks state across frames
//! (fragmentation, limits, roles: see `decoder`) and never reads past the bytes it is given.

use super::error::WsError;
use super::mask::apply_mask;

/// The largest payload a control frame (Close, Ping, Pong) may carry.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame's opcode. Reserved opcodes are not representable: parsing rejects them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opcode {
    /// 0x0: the next fragment of a Text or Binary message.
    Continuation,
    /// 0x1: the first (or only) frame of a UTF-8 text message.
    Text,
    /// 0x2: the first (or only) frame of a binary message.
    Binary,
    /// 0x8: the closing handshake.
    Close,
    /// 0x9: a keepalive the peer must answer with a Pong.
    Ping,
    /// 0xA: the answer to a Ping (or an unsolicited heartbeat).
    Pong,
}

impl Opcode {
    /// Close, Ping and Pong are control frames: unfragmented, at most 125 bytes, and allowed in
    /// the middle of a fragmented message.
    pub fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }

    /// The 4-bit wire value.
    pub fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    /// The opcode for a 4-bit wire value, or `None` for reserved values.
    pub fn from_bits(bits: u8) -> Option<Opcode> {
        match bits {
            0x0 => Some(Opcode::Continuation),
            0x1 => Some(Opcode::Text),
            0x2 => Some(Opcode::Binary),
            0x8 => Some(Opcode::Close),
            0x9 => Some(Opcode::Ping),
            0xA => Some(Opcode::Pong),
            _ => None,
        }
    }
}

/// A parsed frame header. The payload follows at `header_len` bytes from the frame start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Whether this is the final fragment of its message.
    pub fin: bool,
    /// The RSV1–RSV3 bits (RSV1 highest). Always 0 in a header `parse_header` returned, since no
    /// extension is ever negotiated.
    pub rsv: u8,
    /// What the frame carries.
    pub opcode: Opcode,
    /// The masking key, when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// The declared payload length in bytes.
    pub payload_len: u64,
    /// The length of the header itself: 2 to 14 bytes.
    pub header_len: usize,
}

/// Reads `N` bytes at `at`, or `None` when `buf` is too short (more bytes are needed).
fn take<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
    buf.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// Parses the frame header at the front of `buf`.
///
/// Returns `Ok(None)` when `buf` does not yet hold the whole header. Errors are reported as
/// early as the bytes allow: RSV bits, reserved opcodes and control-frame rules are judged from
/// the first two bytes, so a hostile peer cannot make us wait for more input first.
/// Non-minimal length encodings (e.g. 5 in the 16-bit form) are accepted, as most peers do.
pub fn parse_header(buf: &[u8]) -> Result<Option<FrameHeader>, WsError> {
    let Some([b0, b1]) = take::<2>(buf, 0) else {
        return Ok(None);
    };
    let fin = b0 & 0x80 != 0;
    let rsv = (b0 >> 4) & 0x07;
    if rsv != 0 {
        return Err(WsError::ReservedBits(rsv));
    }
    let op_bits = b0 & 0x0F;
    let opcode = Opcode::from_bits(op_bits).ok_or(WsError::ReservedOpcode(op_bits))?;
    let len7 = b1 & 0x7F;
    if opcode.is_control() {
        if !fin {
            return Err(WsError::FragmentedControlFrame);
        }
        // 126 and 127 announce an extended length, which is necessarily > 125.
        if usize::from(len7) > MAX_CONTROL_PAYLOAD {
            return Err(WsError::ControlFrameTooLong);
        }
    }
    let (payload_len, mut header_len) = match len7 {
        126 => match take::<2>(buf, 2) {
            Some(b) => (u64::from(u16::from_be_bytes(b)), 4),
            None => return Ok(None),
        },
        127 => match take::<8>(buf, 2) {
            Some(b) => (u64::from_be_bytes(b), 10),
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    if payload_len >> 63 != 0 {
        return Err(WsError::LengthOverflow);
    }
    let mask = if b1 & 0x80 != 0 {
        let Some(key) = take::<4>(buf, header_len) else {
            return Ok(None);
        };
        header_len += 4;
        Some(key)
    } else {
        None
    };
    Ok(Some(FrameHeader {
        fin,
        rsv,
        opcode,
        mask,
        payload_len,
        header_len,
    }))
}

/// The number of bytes a frame with this payload length occupies on the wire.
pub fn encoded_len(payload_len: usize, masked: bool) -> usize {
    let ext: usize = match payload_len {
        0..=125 => 0,
        126..=0xFFFF => 2,
        _ => 8,
    };
    let key: usize = if masked { 4 } else { 0 };
    (2 + ext + key).saturating_add(payload_len)
}

/// Appends one frame to `out`, masking the copied payload when `mask` is given.
///
/// Servers pass `mask: None` (RFC 6455 forbids masking server frames); clients and tests pass a
/// key. This does not check control-frame limits: encoding a 200-byte Ping is the caller's bug
/// and the peer will reject it.
pub fn encode_frame(
    out: &mut Vec<u8>,
    opcode: Opcode,
    fin: bool,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) {
    out.reserve(encoded_len(payload.len(), mask.is_some()));
    let (header, len) = header(opcode, fin, payload.len(), mask.is_some());
    out.extend_from_slice(&header[..len]);
    let start = out.len();
    if let Some(key) = mask {
        out.extend_from_slice(&key);
        out.extend_from_slice(payload);
        if let Some(body) = out.get_mut(start + 4..) {
            apply_mask(body, key, 0);
        }
    } else {
        out.extend_from_slice(payload);
    }
}

/// A frame header up to its length (the masking key, if any, follows it): the bytes in front
/// and how many of them there are.
fn header(opcode: Opcode, fin: bool, payload_len: usize, masked: bool) -> ([u8; 10], usize) {
    let mut out = [0u8; 10];
    out[0] = if fin { 0x80 } else { 0 } | opcode.bits();
    let mask_bit = if masked { 0x80 } else { 0 };
    let len = match payload_len {
        n @ 0..=125 => {
            out[1] = mask_bit | n as u8;
            2
        }
        n @ 126..=0xFFFF => {
            out[1] = mask_bit | 126;
            out[2..4].copy_from_slice(&(n as u16).to_be_bytes());
            4
        }
        n => {
            out[1] = mask_bit | 127;
            out[2..10].copy_from_slice(&(n as u64).to_be_bytes());
            10
        }
    };
    (out, len)
}

/// The longest header of a server frame (a 64-bit length, no masking key).
pub const MAX_SERVER_HEADER: usize = 10;

/// A buffer for a server frame whose payload is still to be written: [`MAX_SERVER_HEADER`]
/// bytes of room, then the payload is appended, then [`finish_server_frame`] puts the header
/// in that room. Header and payload so share one allocation, and the payload is not copied.
pub fn server_frame_buffer(payload_capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAX_SERVER_HEADER + payload_capacity);
    out.resize(MAX_SERVER_HEADER, 0);
    out
}

/// Writes the header of the payload appended to a [`server_frame_buffer`] right in front of
/// it; the frame is `buf[start..]` for the returned `start`.
pub fn finish_server_frame(buf: &mut [u8], opcode: Opcode) -> usize {
    let payload_len = buf.len().saturating_sub(MAX_SERVER_HEADER);
    let (header, len) = header(opcode, true, payload_len, false);
    let start = MAX_SERVER_HEADER - len;
    if let Some(room) = buf.get_mut(start..MAX_SERVER_HEADER) {
        room.copy_from_slice(&header[..len]);
    }
    start
}

/// A complete, unfragmented, unmasked frame: what a server sends.
pub fn server_frame(opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(payload.len(), false));
    encode_frame(&mut out, opcode, true, payload, None);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(buf: &[u8]) -> FrameHeader {
        parse_header(buf).unwrap().unwrap()
    }

    #[test]
    fn rfc_examples_parse() {
        // RFC 6455 §5.7: unmasked "Hello" and masked "Hello".
        let h = parse(&[0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
        assert_eq!(
            (h.fin, h.opcode, h.mask, h.payload_len, h.header_len),
            (true, Opcode::Text, None, 5, 2)
        );
        let h = parse(&[
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ]);
        assert_eq!(h.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(h.header_len, 6);
        // 256 bytes binary with a 16-bit length, 64 KiB with a 64-bit length.
        let h = parse(&[0x82, 0x7E, 0x01, 0x00]);
        assert_eq!((h.payload_len, h.header_len), (256, 4));
        let h = parse(&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!((h.payload_len, h.header_len), (65536, 10));
    }

    #[test]
    fn every_proper_prefix_of_a_header_needs_more() {
        let full = [0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4];
        for n in 0..full.len() {
            assert_eq!(parse_header(&full[..n]), Ok(None), "prefix {n}");
        }
        assert_eq!(parse(&full).header_len, 14);
    }

    #[test]
    fn rsv_bits_are_rejected() {
        for (b0, bits) in [(0xC1, 4), (0xA1, 2), (0x91, 1)] {
            let err = parse_header(&[b0, 0x80]).unwrap_err();
            assert_eq!(err, WsError::ReservedBits(bits));
            assert_eq!(err.close_code(), 1002);
        }
    }

    #[test]
    fn reserved_opcodes_are_rejected() {
        for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            let err = parse_header(&[0x80 | op, 0x80]).unwrap_err();
            assert_eq!(err, WsError::ReservedOpcode(op));
            assert_eq!(err.close_code(), 1002);
        }
    }

    #[test]
    fn fragmented_ping_is_a_protocol_error() {
        let err = parse_header(&[0x09, 0x80]).unwrap_err();
        assert_eq!(err, WsError::FragmentedControlFrame);
        assert_eq!(err.close_code(), 1002);
    }

    #[test]
    fn control_frame_over_125_bytes_is_a_protocol_error() {
        // 126 announces a 16-bit length; rejected before the extended length even arrives.
        let err = parse_header(&[0x89, 0xFE]).unwrap_err();
        assert_eq!(err, WsError::ControlFrameTooLong);
        assert_eq!(err.close_code(), 1002);
        assert!(parse_header(&[0x89, 0x7D]).unwrap().is_some());
    }

    #[test]
    fn length_with_msb_set_is_rejected() {
        let err = parse_header(&[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]).unwrap_err();
        assert_eq!(err, WsError::LengthOverflow);
    }

    #[test]
    fn non_minimal_lengths_are_accepted() {
        let h = parse(&[0x82, 0x7E, 0x00, 0x05]);
        assert_eq!(h.payload_len, 5);
    }

    #[test]
    fn encode_then_parse_all_length_forms() {
        for len in [0usize, 1, 125, 126, 127, 65535, 65536, 70000] {
            for mask in [None, Some([9, 8, 7, 6])] {
                let payload = vec![0xAB; len];
                let mut out = Vec::new();
                encode_frame(&mut out, Opcode::Binary, true, &payload, mask);
                assert_eq!(out.len(), encoded_len(len, mask.is_some()));
                let h = parse(&out);
                assert_eq!(h.payload_len, len as u64);
                assert_eq!(h.mask, mask);
                let mut body = out[h.header_len..].to_vec();
                if let Some(key) = mask {
                    apply_mask(&mut body, key, 0);
                }
                assert_eq!(body, payload);
            }
        }
    }

    #[test]
    fn server_frame_is_final_and_unmasked() {
        assert_eq!(
            server_frame(Opcode::Text, b"hi"),
            vec![0x81, 0x02, b'h', b'i']
        );
        assert_eq!(server_frame(Opcode::Pong, b""), vec![0x8A, 0x00]);
    }

    #[test]
    fn a_frame_finished_in_place_is_the_frame_encoded_whole() {
        for len in [0usize, 1, 125, 126, 127, 65535, 65536, 70000] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut buf = server_frame_buffer(len);
            buf.extend_from_slice(&payload);
            let start = finish_server_frame(&mut buf, Opcode::Text);
            assert_eq!(buf[start..], server_frame(Opcode::Text, &payload), "{len}");
        }
    }

    #[test]
    fn opcode_bits_round_trip() {
        for bits in 0..16u8 {
            if let Some(op) = Opcode::from_bits(bits) {
                assert_eq!(op.bits(), bits);
            }
        }
    }
}
