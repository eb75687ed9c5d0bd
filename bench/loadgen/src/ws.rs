//! A lean WebSocket client (RFC 6455) on a tokio `TcpStream`, sized for 10,000 connections.
//!
//! Owns the upgrade handshake, parsing frames out of one small growable read buffer (masked or
//! not, so `ringcast-floor` reads its clients with it too, from the read half of an accepted
//! socket), and writing frames: masked from a client, unmasked from a server ([`frame`]). Per connection it keeps only the socket, a 512-byte buffer (grown
//! only for a bigger frame) and, if a server ever fragments a message, a reassembly buffer. It
//! knows nothing of Pusher and never allocates per received frame.

use std::io;
use std::net::SocketAddr;

use base64::Engine;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const INITIAL_BUF: usize = 512;
const MAX_MESSAGE: usize = 16 << 20;

pub const OP_CONT: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// One complete message (or control frame) borrowed from the connection's buffers.
pub enum Msg<'a> {
    Text(&'a [u8]),
    Ping(&'a [u8]),
    Close,
    /// Binary messages, pongs and unknown opcodes: nothing a Pusher client acts on.
    Other,
}

/// Where the payload of the last parsed message lives.
enum Loc {
    Buf { op: u8, start: usize, len: usize },
    Frag { op: u8 },
}

/// A WebSocket connection read from `S` (a client's whole `TcpStream` by default).
pub struct WsConn<S = TcpStream> {
    stream: S,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Reassembly of a fragmented message: (opcode, bytes so far).
    frag: Option<(u8, Vec<u8>)>,
    /// The reassembled message was handed out; drop it on the next call.
    frag_done: bool,
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

/// One frame with `opcode` and `payload`, masked with `mask` (clients must mask, servers
/// must not).
pub fn frame(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + 14);
    f.push(0x80 | opcode);
    let bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(bit | n as u8),
        n if n < 65536 => {
            f.push(bit | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(bit | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(m) => {
            f.extend_from_slice(&m);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ m[i & 3]));
        }
        None => f.extend_from_slice(payload),
    }
    f
}

impl<S: AsyncRead + Unpin> WsConn<S> {
    /// A connection whose upgrade is already done: `leftover` holds bytes read past the
    /// request head (the first frames, if the peer sent them early). Used by `ringcast-floor`.
    #[allow(dead_code)]
    pub fn upgraded(stream: S, leftover: &[u8]) -> WsConn<S> {
        let mut buf = vec![0; INITIAL_BUF.max(leftover.len())];
        buf[..leftover.len()].copy_from_slice(leftover);
        WsConn {
            stream,
            buf,
            start: 0,
            end: leftover.len(),
            frag: None,
            frag_done: false,
        }
    }

    /// Reads more bytes into the buffer: compacts or grows it first if it is full.
    async fn fill(&mut self) -> io::Result<()> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let new_len = self.buf.len() * 2;
                self.buf.resize(new_len, 0);
            }
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.end += n;
        Ok(())
    }

    /// Parses one frame from the buffer; `None` if incomplete. Advances past it and unmasks.
    /// Returns (fin, opcode, payload start, payload len).
    fn parse_frame(&mut self) -> io::Result<Option<(bool, u8, usize, usize)>> {
        let avail = &self.buf[self.start..self.end];
        if avail.len() < 2 {
            return Ok(None);
        }
        let (b0, b1) = (avail[0], avail[1]);
        let masked = b1 & 0x80 != 0;
        let mut hdr = 2;
        let len = match b1 & 0x7f {
            126 => {
                if avail.len() < 4 {
                    return Ok(None);
                }
                hdr = 4;
                u16::from_be_bytes([avail[2], avail[3]]) as usize
            }
            127 => {
                if avail.len() < 10 {
                    return Ok(None);
                }
                hdr = 10;
                let mut b = [0u8; 8];
                b.copy_from_slice(&avail[2..10]);
                usize::try_from(u64::from_be_bytes(b)).map_err(|_| bad("frame too large"))?
            }
            n => n as usize,
        };
        if len > MAX_MESSAGE {
            return Err(bad("frame too large"));
        }
        let mask_at = hdr;
        if masked {
            hdr += 4;
        }
        if avail.len() < hdr + len {
            if self.start + hdr + len > self.buf.len() && self.start == 0 {
                // The frame cannot fit even in an empty buffer: grow to fit it.
                self.buf.resize((hdr + len).next_power_of_two(), 0);
            }
            return Ok(None);
        }
        let p0 = self.start + hdr;
        if masked {
            let m = [
                self.buf[self.start + mask_at],
                self.buf[self.start + mask_at + 1],
                self.buf[self.start + mask_at + 2],
                self.buf[self.start + mask_at + 3],
            ];
            for (i, b) in self.buf[p0..p0 + len].iter_mut().enumerate() {
                *b ^= m[i & 3];
            }
        }
        self.start = p0 + len;
        Ok(Some((b0 & 0x80 != 0, b0 & 0x0f, p0, len)))
    }

    /// Parses the next complete message already buffered, without reading. `None` if more
    /// bytes are needed.
    fn try_next(&mut self) -> io::Result<Option<Loc>> {
        loop {
            let Some((fin, op, p0, len)) = self.parse_frame()? else {
                return Ok(None);
            };
            match op {
                OP_CONT => {
                    let (fop, data) = self
                        .frag
                        .as_mut()
                        .ok_or_else(|| bad("stray continuation"))?;
                    if data.len() + len > MAX_MESSAGE {
                        return Err(bad("message too large"));
                    }
                    data.extend_from_slice(&self.buf[p0..p0 + len]);
                    if fin {
                        let op = *fop;
                        self.frag_done = true;
                        return Ok(Some(Loc::Frag { op }));
                    }
                }
                OP_TEXT | OP_BINARY if !fin => {
                    self.frag = Some((op, self.buf[p0..p0 + len].to_vec()));
                }
                _ => return Ok(Some(Loc::Buf { op, start: p0, len })),
            }
        }
    }

    fn view(&mut self, loc: Loc) -> Msg<'_> {
        let (op, bytes): (u8, &[u8]) = match loc {
            Loc::Buf { op, start, len } => (op, &self.buf[start..start + len]),
            Loc::Frag { op } => {
                // Keep the reassembled bytes until the next call; `frag` is replaced then.
                let data = self
                    .frag
                    .as_ref()
                    .map(|f| f.1.as_slice())
                    .unwrap_or_default();
                (op, data)
            }
        };
        match op {
            OP_TEXT => Msg::Text(bytes),
            OP_PING => Msg::Ping(bytes),
            OP_CLOSE => Msg::Close,
            _ => Msg::Other,
        }
    }

    /// The next message, reading from the socket as needed. Cancel-safe: state lives in `self`.
    pub async fn next(&mut self) -> io::Result<Msg<'_>> {
        if self.frag_done {
            self.frag = None;
            self.frag_done = false;
        }
        let loc = loop {
            if let Some(loc) = self.try_next()? {
                break loc;
            }
            self.fill().await?;
        };
        Ok(self.view(loc))
    }
}

impl WsConn {
    /// Connects and performs the upgrade for `path` (e.g. `/app/KEY?protocol=7`).
    pub async fn connect(addr: SocketAddr, host: &str, path: &str) -> io::Result<WsConn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let key =
            base64::engine::general_purpose::STANDARD.encode(fastrand::u128(..).to_le_bytes());
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        let mut conn = WsConn {
            stream,
            buf: vec![0; INITIAL_BUF],
            start: 0,
            end: 0,
            frag: None,
            frag_done: false,
        };
        conn.stream.write_all(req.as_bytes()).await?;
        let head_end = loop {
            if let Some(i) = conn.buf[..conn.end]
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
            {
                break i + 4;
            }
            if conn.end >= 16 << 10 {
                return Err(bad("upgrade response head too large"));
            }
            conn.fill().await?;
        };
        let head = &conn.buf[..head_end];
        let status_ok = head.starts_with(b"HTTP/1.1 101") || head.starts_with(b"HTTP/1.0 101");
        if !status_ok {
            let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
            return Err(bad(&format!(
                "upgrade refused: {}",
                String::from_utf8_lossy(line)
            )));
        }
        conn.start = head_end;
        Ok(conn)
    }

    /// Sends one masked frame with `opcode` and `payload`.
    pub async fn send(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        let f = frame(opcode, payload, Some(fastrand::u32(..).to_ne_bytes()));
        self.stream.write_all(&f).await
    }

    /// Sends a text message.
    pub async fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.send(OP_TEXT, text.as_bytes()).await
    }
}
