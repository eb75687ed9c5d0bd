//! The byte transport under HTTP and WebSocket: plain TCP, or TLS through rustls's sans-IO
//! `ServerConnection`.
//!
//! Wire bytes read from the socket go in through [`Transport::open`], which yields plaintext;
//! plaintext to send goes out through [`Transport::seal`]. The TLS state is shared by the
//! connection's reader and writer tasks (same thread, `Rc<RefCell<..>>`, never borrowed across
//! an await). Plain TCP passes bytes through untouched, so the plain path costs nothing.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::sync::Arc;

use bytes::BytesMut;
use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use rustls::{ServerConfig, ServerConnection};

/// How a connection's bytes are carried.
#[derive(Clone)]
pub enum Transport {
    /// Plain TCP.
    Plain,
    /// TLS; the session is shared by the connection's reader and writer.
    Tls(Rc<RefCell<ServerConnection>>),
}

impl Transport {
    /// A transport for a new connection: TLS when the server has a certificate.
    pub fn new(tls: Option<Arc<ServerConfig>>) -> io::Result<Transport> {
        match tls {
            None => Ok(Transport::Plain),
            Some(config) => {
                let conn = ServerConnection::new(config).map_err(io::Error::other)?;
                Ok(Transport::Tls(Rc::new(RefCell::new(conn))))
            }
        }
    }

    /// True for TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }

    /// Moves `wire` (fully consumed) into `plain`. Afterwards the TLS session may want to
    /// send (handshake messages, an alert after an error): see [`pending`](Self::pending).
    pub fn open(&self, wire: &mut BytesMut, plain: &mut BytesMut) -> io::Result<()> {
        let Transport::Tls(tls) = self else {
            plain.extend_from_slice(wire);
            wire.clear();
            return Ok(());
        };
        let mut tls = tls.borrow_mut();
        let mut input: &[u8] = wire;
        let result = (|| {
            while !input.is_empty() {
                if tls.read_tls(&mut input)? == 0 {
                    break;
                }
                let state = tls.process_new_packets().map_err(io::Error::other)?;
                let mut n = state.plaintext_bytes_to_read();
                while n > 0 {
                    let start = plain.len();
                    plain.resize(start + n, 0);
                    let got = tls.reader().read(&mut plain[start..])?;
                    plain.truncate(start + got);
                    n -= got.min(n);
                    if got == 0 {
                        break;
                    }
                }
            }
            Ok(())
        })();
        wire.clear();
        result
    }

    /// True when the TLS session has bytes to send.
    pub fn wants_write(&self) -> bool {
        match self {
            Transport::Plain => false,
            Transport::Tls(tls) => tls.borrow().wants_write(),
        }
    }

    /// The wire bytes for `plain`. Plain TCP copies nothing: it returns `None` and the caller
    /// writes `plain` itself.
    pub fn seal(&self, plain: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let Transport::Tls(tls) = self else {
            return Ok(None);
        };
        let mut tls = tls.borrow_mut();
        tls.writer().write_all(plain)?;
        let mut out = Vec::with_capacity(plain.len() + 64);
        while tls.wants_write() {
            tls.write_tls(&mut out)?;
        }
        Ok(Some(out))
    }

    /// Bytes the TLS session wants to send (handshake, alerts), with a close_notify first when
    /// `close`. Empty for plain TCP.
    pub fn pending(&self, close: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if let Transport::Tls(tls) = self {
            let mut tls = tls.borrow_mut();
            if close {
                tls.send_close_notify();
            }
            while tls.wants_write() {
                if tls.write_tls(&mut out).is_err() {
                    break;
                }
            }
        }
        out
    }

    /// Reads once from `stream` and appends the plaintext to `plain`, answering TLS handshake
    /// traffic on the way. `None` on EOF or error; `Some(0)` when only TLS records arrived.
    pub async fn read_more(&self, stream: &mut TcpStream, plain: &mut BytesMut) -> Option<usize> {
        if let Transport::Plain = self {
            return read_into(stream, plain).await.filter(|&n| n > 0);
        }
        let mut wire = BytesMut::with_capacity(4096);
        read_into(stream, &mut wire).await.filter(|&n| n > 0)?;
        let before = plain.len();
        let opened = self.open(&mut wire, plain);
        // Send what the session produced even after an error: that is the TLS alert.
        let out = self.pending(false);
        if !out.is_empty() && stream.write_all(out).await.0.is_err() {
            return None;
        }
        opened.ok().map(|()| plain.len() - before)
    }

    /// Writes `bytes` to `stream` (sealed first under TLS).
    pub async fn write_all(&self, stream: &mut TcpStream, bytes: Vec<u8>) -> io::Result<()> {
        let wire = match self.seal(&bytes)? {
            Some(sealed) => sealed,
            None => bytes,
        };
        stream.write_all(wire).await.0.map(|_| ())
    }
}

/// One read into the spare capacity of `buf`; `None` on an I/O error.
pub async fn read_into(stream: &mut TcpStream, buf: &mut BytesMut) -> Option<usize> {
    if buf.capacity() - buf.len() < 512 {
        buf.reserve(2048);
    }
    let owned = std::mem::take(buf);
    let start = owned.len();
    let cap = owned.capacity();
    let (res, slice) = stream.read(owned.slice_mut(start..cap)).await;
    *buf = slice.into_inner();
    res.ok()
}
