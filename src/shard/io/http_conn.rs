//! The transport of one outgoing HTTP connection: a monoio `TcpStream`, plain or wrapped in a
//! rustls client session (moved through the sans-IO helpers of [`crate::broker::tls`], the
//! same ones the Redis link uses).
//!
//! It only moves bytes: the HTTP exchange is in `http_client`, and which connection is reused
//! in `http_pool`. For TLS, the request written before the handshake ends waits inside the
//! session and goes out with the handshake's last flight.

use std::net::SocketAddr;

use bytes::BytesMut;
use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use rustls::ClientConnection;

use super::http_client::ClientError;
use crate::broker::tls;

/// One open connection.
pub(crate) struct Conn {
    stream: TcpStream,
    /// The TLS session, for https.
    tls: Option<ClientConnection>,
}

impl Conn {
    /// Connects to `addr`; `tls` wraps the connection in that session (its server name is
    /// checked against the certificate during the handshake).
    pub(crate) async fn connect(
        addr: SocketAddr,
        tls: Option<ClientConnection>,
    ) -> Result<Conn, ClientError> {
        let stream = TcpStream::connect_addr(addr)
            .await
            .map_err(ClientError::Io)?;
        // Requests are written whole; Nagle would only delay the last segment.
        let _ = stream.set_nodelay(true);
        Ok(Conn { stream, tls })
    }

    /// Writes all of `plain` (encrypted first under TLS).
    pub(crate) async fn write_all(&mut self, plain: Vec<u8>) -> Result<(), ClientError> {
        let wire = match self.tls.as_mut() {
            None => plain,
            Some(session) => tls::seal(session, &plain).map_err(ClientError::Tls)?,
        };
        self.write_wire(wire).await
    }

    async fn write_wire(&mut self, wire: Vec<u8>) -> Result<(), ClientError> {
        if wire.is_empty() {
            return Ok(());
        }
        self.stream
            .write_all(wire)
            .await
            .0
            .map(|_| ())
            .map_err(ClientError::Io)
    }

    /// Appends at least one byte of plaintext to `buf`; `Ok(0)` at the end of the stream.
    pub(crate) async fn read_more(&mut self, buf: &mut BytesMut) -> Result<usize, ClientError> {
        loop {
            if buf.capacity() - buf.len() < 512 {
                buf.reserve(4096);
            }
            let owned = std::mem::take(buf);
            let (start, cap) = (owned.len(), owned.capacity());
            let (res, slice) = self.stream.read(owned.slice_mut(start..cap)).await;
            *buf = slice.into_inner();
            let n = res.map_err(ClientError::Io)?;
            let Some(session) = self.tls.as_mut() else {
                return Ok(n);
            };
            if n == 0 {
                return Ok(0);
            }
            // The wire bytes just read are replaced by the plaintext they carry.
            let wire = buf.split_off(start);
            let mut plain = Vec::new();
            let absorbed = tls::absorb(session, &wire, &mut plain);
            // Handshake replies and alerts go out even when the input was refused.
            let reply = tls::outgoing(session);
            self.write_wire(reply).await?;
            absorbed.map_err(ClientError::Tls)?;
            if !plain.is_empty() {
                buf.extend_from_slice(&plain);
                return Ok(plain.len());
            }
        }
    }
}
