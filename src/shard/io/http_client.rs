//! A small outgoing HTTP/1.x client on a monoio `TcpStream`: one request, one answer, then the
//! connection is closed. Used for the Sanctum introspection call.
//!
//! It sends the caller's request bytes as they are, reads the response head with `httparse`,
//! and the body up to `Content-Length` (or to EOF when the server sends none, as an HTTP/1.0
//! answer may). Chunked answers are refused (the Sanctum request is HTTP/1.0, so servers do not
//! send them). Everything, connect included, is bounded by one timeout and a body limit. Plain
//! TCP only; a host name is resolved with the system resolver, which blocks the shard for that
//! moment, so configure an IP address (or `localhost`) where latency matters.

use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use bytes::BytesMut;
use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

use crate::proto::http::HttpUrl;

/// Largest response head read, in bytes.
const MAX_HEAD: usize = 16 * 1024;

/// A complete answer.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The whole body.
    pub body: Vec<u8>,
}

/// Why no answer was had.
#[derive(Debug)]
pub enum ClientError {
    /// The host name did not resolve.
    Resolve(String),
    /// Connect, write or read failed.
    Io(std::io::Error),
    /// No complete answer within the timeout.
    Timeout(Duration),
    /// The answer was not HTTP/1.x as expected (or too big).
    BadResponse(&'static str),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Resolve(e) => write!(f, "cannot resolve the host: {e}"),
            ClientError::Io(e) => write!(f, "connection failed: {e}"),
            ClientError::Timeout(t) => write!(f, "no answer within {} ms", t.as_millis()),
            ClientError::BadResponse(why) => write!(f, "bad HTTP answer: {why}"),
        }
    }
}

/// Sends `request` to `url`'s host and port and reads the answer, all within `timeout`.
pub async fn send(
    url: &HttpUrl,
    request: &[u8],
    timeout: Duration,
    max_body: usize,
) -> Result<Reply, ClientError> {
    let addr = resolve(url)?;
    match monoio::time::timeout(timeout, exchange(addr, request.to_vec(), max_body)).await {
        Ok(result) => result,
        Err(_) => Err(ClientError::Timeout(timeout)),
    }
}

fn resolve(url: &HttpUrl) -> Result<SocketAddr, ClientError> {
    if let Ok(ip) = url.host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, url.port));
    }
    (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| ClientError::Resolve(e.to_string()))?
        .next()
        .ok_or_else(|| ClientError::Resolve("no address".to_owned()))
}

async fn exchange(
    addr: SocketAddr,
    request: Vec<u8>,
    max_body: usize,
) -> Result<Reply, ClientError> {
    let mut stream = TcpStream::connect_addr(addr)
        .await
        .map_err(ClientError::Io)?;
    let _ = stream.set_nodelay(true);
    stream.write_all(request).await.0.map_err(ClientError::Io)?;
    let mut buf = BytesMut::with_capacity(2048);
    let (status, head_len, length) = loop {
        if let Some(head) = parse_head(&buf)? {
            break head;
        }
        if buf.len() > MAX_HEAD {
            return Err(ClientError::BadResponse("response head too large"));
        }
        match read_more(&mut stream, &mut buf).await {
            Some(0) => return Err(ClientError::BadResponse("closed before the response head")),
            Some(_) => {}
            None => return Err(ClientError::Io(std::io::Error::other("read failed"))),
        }
    };
    let _ = buf.split_to(head_len);
    if length.is_some_and(|n| n > max_body) {
        return Err(ClientError::BadResponse("response body too large"));
    }
    loop {
        if length.is_some_and(|n| buf.len() >= n) {
            buf.truncate(length.unwrap_or(0));
            break;
        }
        if buf.len() > max_body {
            return Err(ClientError::BadResponse("response body too large"));
        }
        match read_more(&mut stream, &mut buf).await {
            Some(0) if length.is_none() => break,
            Some(0) => return Err(ClientError::BadResponse("closed inside the body")),
            Some(_) => {}
            None => return Err(ClientError::Io(std::io::Error::other("read failed"))),
        }
    }
    Ok(Reply {
        status,
        body: buf.to_vec(),
    })
}

/// One read into the spare capacity of `buf`; `None` on an I/O error.
async fn read_more(stream: &mut TcpStream, buf: &mut BytesMut) -> Option<usize> {
    if buf.capacity() - buf.len() < 512 {
        buf.reserve(4096);
    }
    let owned = std::mem::take(buf);
    let (start, cap) = (owned.len(), owned.capacity());
    let (res, slice) = stream.read(owned.slice_mut(start..cap)).await;
    *buf = slice.into_inner();
    res.ok()
}

/// `(status, head length, Content-Length)` once the head is complete.
fn parse_head(buf: &[u8]) -> Result<Option<(u16, usize, Option<usize>)>, ClientError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(ClientError::BadResponse("not an HTTP/1.x response")),
    };
    let status = resp.code.unwrap_or(0);
    let mut length = None;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(ClientError::BadResponse(
                "chunked answers are not supported",
            ));
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or(ClientError::BadResponse("bad Content-Length"))?;
            length = Some(n);
        }
    }
    Ok(Some((status, head_len, length)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_parsed_with_their_length() {
        let raw = b"HTTP/1.0 200 OK\r\nContent-Length: 8\r\n\r\n{\"id\":7}";
        assert_eq!(
            parse_head(raw).unwrap(),
            Some((200, raw.len() - 8, Some(8)))
        );
        assert_eq!(parse_head(b"HTTP/1.1 401 Unauth").unwrap(), None);
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").is_err());
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
    }
}
