//! The transport under each case: a TCP connection to the echo endpoint, the opening
//! handshake, chopped writes, and a reader thread that turns bytes into server frames.
//!
//! It knows nothing about expectations or close semantics (see `session`); it only moves bytes
//! and reports frames, end of stream and server framing violations, each with a timestamp.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha1::{Digest, Sha1};

use super::wire::{self, Frame, Parsed};

/// How the bytes of one send are split into `write` calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chop {
    /// One write.
    Whole,
    /// One write, then a short pause so the frame travels in its own TCP segment
    /// (Autobahn's `sync = True`, "frame-wise chops").
    Sync,
    /// Writes of at most this many bytes ("octet-wise chops" when 1).
    Octets(usize),
}

/// What the reader thread saw.
#[derive(Debug)]
pub enum Incoming {
    Frame(Frame),
    /// The server closed its side (EOF) or the connection broke.
    Ended(String),
    /// The server sent bytes that are not a valid server frame; reading stopped.
    Violation(String),
}

/// A connected, upgraded client.
pub struct Client {
    stream: TcpStream,
    incoming: Receiver<Incoming>,
    pub write_failed: bool,
}

/// RFC 6455 §1.3: the GUID appended to the key before hashing.
const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// Pause after a `Sync` write: enough for loopback to deliver the segment on its own.
const SYNC_PAUSE: Duration = Duration::from_millis(2);

impl Client {
    /// Connects to `ws://127.0.0.1:{port}{path}` and checks the 101 and its accept key.
    pub fn connect(port: u16, path: &str) -> Result<Client, String> {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let key =
            base64::engine::general_purpose::STANDARD.encode(fastrand::u128(..).to_be_bytes());
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\
             User-Agent: ringcast-conformance\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .map_err(|e| e.to_string())?;
        let (head, leftover) = read_head(&mut stream)?;
        let status = head.lines().next().unwrap_or("");
        if !status.starts_with("HTTP/1.1 101") {
            return Err(format!("upgrade refused: {status}"));
        }
        let want = base64::engine::general_purpose::STANDARD
            .encode(Sha1::digest(format!("{key}{WS_GUID}").as_bytes()));
        let accept = head.lines().find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("sec-websocket-accept")
                .then(|| value.trim().to_owned())
        });
        if accept.as_deref() != Some(want.as_str()) {
            return Err(format!("bad Sec-WebSocket-Accept {accept:?}, want {want}"));
        }
        stream.set_read_timeout(None).map_err(|e| e.to_string())?;
        let reader = stream.try_clone().map_err(|e| e.to_string())?;
        let (tx, incoming) = mpsc::channel();
        thread::spawn(move || read_frames(reader, leftover, &tx));
        Ok(Client {
            stream,
            incoming,
            write_failed: false,
        })
    }

    /// Writes `bytes` chopped as asked. A failed write (the server already closed) is
    /// remembered, not fatal: what the server did before that is what the case judges.
    pub fn write(&mut self, bytes: &[u8], chop: Chop) {
        if self.write_failed {
            return;
        }
        let result = match chop {
            Chop::Whole => self.stream.write_all(bytes),
            Chop::Sync => {
                let r = self.stream.write_all(bytes);
                thread::sleep(SYNC_PAUSE);
                r
            }
            Chop::Octets(n) => bytes.chunks(n.max(1)).try_for_each(|c| {
                let r = self.stream.write_all(c);
                // Tiny chops get a breath so the server really reads them one by one; big
                // chops (section 9) are about throughput and go back to back.
                if n < 16 {
                    thread::sleep(Duration::from_micros(50));
                }
                r
            }),
        };
        if result.is_err() {
            self.write_failed = true;
        }
    }

    /// The next thing the reader saw, waiting until `deadline` at most.
    pub fn next(&self, deadline: Instant) -> Option<Incoming> {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.incoming.recv_timeout(wait) {
            Ok(i) => Some(i),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(Incoming::Ended("reader gone".into())),
        }
    }

    /// Drops the TCP connection from our side (Autobahn's `killAfter`).
    pub fn kill(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads the HTTP response head; returns it and any bytes that followed it.
fn read_head(stream: &mut TcpStream) -> Result<(String, Vec<u8>), String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            return Ok((head, buf[end + 4..].to_vec()));
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err("connection closed during the handshake".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("handshake read: {e}")),
        }
    }
}

/// The reader thread: frames out until EOF, an error, or a framing violation.
fn read_frames(mut stream: TcpStream, mut buf: Vec<u8>, tx: &mpsc::Sender<Incoming>) {
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        loop {
            match wire::parse(&buf) {
                Parsed::Frame(frame, used) => {
                    buf.drain(..used);
                    if tx.send(Incoming::Frame(frame)).is_err() {
                        return;
                    }
                }
                Parsed::NeedMore(total) => {
                    // Reserve for the whole frame once, so a 16 MiB echo is not regrown often.
                    if let Some(t) = total {
                        buf.reserve(t.saturating_sub(buf.len()));
                    }
                    break;
                }
                Parsed::Invalid(why) => {
                    let _ = tx.send(Incoming::Violation(why));
                    return;
                }
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) => {
                let _ = tx.send(Incoming::Ended("EOF".into()));
                return;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => {
                let _ = tx.send(Incoming::Ended(e.to_string()));
                return;
            }
        }
    }
}
