//! The suite's own RFC 6455 frame writer and reader, independent of `ringcast::proto::ws`.
//!
//! A conformance suite that judged ringcast's codec with ringcast's codec would agree with
//! itself by construction, so this module re-implements the wire format from the RFC, small
//! and literal: the writer can produce anything a hostile client might send (any RSV bits, any
//! opcode nibble, fragmented control frames, lengths that disagree with the payload), and the
//! reader is strict about what a server may send (unmasked, no RSV, known opcodes).

/// A frame as the client wants to put it on the wire. Every field is raw so that invalid
/// frames are as easy to build as valid ones.
#[derive(Clone, Debug)]
pub struct FrameSpec {
    pub fin: bool,
    /// RSV1..RSV3 as a 3-bit number (RSV1 is the high bit).
    pub rsv: u8,
    /// The 4-bit opcode, reserved values included.
    pub opcode: u8,
    pub payload: Vec<u8>,
}

pub const CONTINUATION: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

impl FrameSpec {
    /// A final, RSV-free frame.
    pub fn new(opcode: u8, payload: impl Into<Vec<u8>>) -> FrameSpec {
        FrameSpec {
            fin: true,
            rsv: 0,
            opcode,
            payload: payload.into(),
        }
    }

    pub fn fin(mut self, fin: bool) -> FrameSpec {
        self.fin = fin;
        self
    }

    pub fn rsv(mut self, rsv: u8) -> FrameSpec {
        self.rsv = rsv;
        self
    }

    /// A Close frame: no payload when `code` is `None`, else the code big-endian and `reason`
    /// (raw bytes, so invalid UTF-8 and over-long reasons can be sent).
    pub fn close(code: Option<u16>, reason: &[u8]) -> FrameSpec {
        let mut payload = Vec::new();
        if let Some(c) = code {
            payload.extend_from_slice(&c.to_be_bytes());
        }
        payload.extend_from_slice(reason);
        FrameSpec::new(CLOSE, payload)
    }

    /// The masked wire bytes, with a fresh random masking key (RFC 6455 §5.3 wants keys that
    /// a server cannot predict; a fixed key would also hide unmasking bugs that cancel out).
    pub fn encode(&self) -> Vec<u8> {
        let key = fastrand::u32(..).to_be_bytes();
        let len = self.payload.len();
        let mut out = Vec::with_capacity(len + 14);
        out.push(u8::from(self.fin) << 7 | (self.rsv & 0x7) << 4 | (self.opcode & 0xF));
        match len {
            0..=125 => out.push(0x80 | len as u8),
            126..=0xFFFF => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&key);
        let start = out.len();
        out.extend_from_slice(&self.payload);
        for (i, b) in out[start..].iter_mut().enumerate() {
            *b ^= key[i & 3];
        }
        out
    }

    /// `payload` repeated (and cut) to exactly `len` bytes, as Autobahn's `payload_len` does
    /// for its big-message cases.
    pub fn repeated(opcode: u8, pattern: &[u8], len: usize) -> FrameSpec {
        FrameSpec::new(
            opcode,
            pattern
                .iter()
                .copied()
                .cycle()
                .take(len)
                .collect::<Vec<_>>(),
        )
    }
}

/// A frame received from the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

/// What the front of the receive buffer holds.
#[derive(Debug)]
pub enum Parsed {
    /// A complete frame that occupied this many bytes.
    Frame(Frame, usize),
    /// The frame is incomplete; when its length is known, how many bytes it needs in all.
    NeedMore(Option<usize>),
    /// The server broke RFC 6455; the reason.
    Invalid(String),
}

/// Parses one server frame at the front of `buf`.
pub fn parse(buf: &[u8]) -> Parsed {
    let (b0, b1) = match buf {
        [b0, b1, ..] => (*b0, *b1),
        _ => return Parsed::NeedMore(None),
    };
    if b0 & 0x70 != 0 {
        return Parsed::Invalid(format!("server frame has RSV bits {:#05b}", (b0 >> 4) & 7));
    }
    let opcode = b0 & 0xF;
    if !matches!(opcode, CONTINUATION | TEXT | BINARY | CLOSE | PING | PONG) {
        return Parsed::Invalid(format!("server frame has reserved opcode {opcode:#x}"));
    }
    if b1 & 0x80 != 0 {
        return Parsed::Invalid("server frame is masked".into());
    }
    let (len, header) = match b1 & 0x7F {
        126 if buf.len() >= 4 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() >= 10 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(b), 10)
        }
        126 | 127 => return Parsed::NeedMore(None),
        n => (u64::from(n), 2),
    };
    let fin = b0 & 0x80 != 0;
    if opcode >= CLOSE && (!fin || len > 125) {
        return Parsed::Invalid("server control frame fragmented or longer than 125".into());
    }
    let total = header + len as usize;
    if buf.len() < total {
        return Parsed::NeedMore(Some(total));
    }
    let frame = Frame {
        fin,
        opcode,
        payload: buf[header..total].to_vec(),
    };
    Parsed::Frame(frame, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_unmasking() {
        for len in [0, 1, 125, 126, 65535, 65536] {
            let bytes = FrameSpec::repeated(BINARY, b"ab", len).encode();
            // Unmask by hand, then parse as if the server had sent it unmasked.
            let header = bytes.len() - len - 4;
            let key: [u8; 4] = bytes[header..header + 4].try_into().unwrap();
            let mut plain = bytes[..header].to_vec();
            plain[1] &= 0x7F;
            plain.extend(
                bytes[header + 4..]
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ key[i & 3]),
            );
            match parse(&plain) {
                Parsed::Frame(f, n) => {
                    assert_eq!(n, plain.len());
                    assert_eq!(f.payload.len(), len);
                    assert!(f.payload.iter().step_by(2).all(|&b| b == b'a'));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn rfc_example_unmasked_hello() {
        match parse(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]) {
            Parsed::Frame(f, 7) => assert_eq!(f.payload, b"Hello"),
            other => panic!("{other:?}"),
        }
    }
}
