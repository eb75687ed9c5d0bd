//! The server's one outgoing HTTP/1.x client, on monoio: the Sanctum introspection call of
//! connection authentication ([`send`], one request per connection) and the webhook
//! deliveries of the control core ([`exchange`] on a kept-alive connection of
//! `http_pool`).
//!
//! It sends the caller's request bytes as they are, reads the response head with `httparse`
//! (status and headers), and the body framed by `Content-Length`, by chunked transfer coding,
//! or by the end of the stream (an HTTP/1.0 answer may do that). Everything, connect included,
//! is bounded by one timeout and a body limit. A host name is resolved with the system
//! resolver, which blocks the thread for that moment, so configure an IP address (or
//! `localhost`) where latency matters.

use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use bytes::BytesMut;

use super::http_conn::Conn;
use crate::proto::http::{ChunkedDecoder, ChunkedError, HttpUrl};

/// Largest response head read, in bytes.
const MAX_HEAD: usize = 16 * 1024;

/// A complete answer.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The response headers, names as sent.
    pub headers: Vec<(String, String)>,
    /// The whole body (chunked coding removed).
    pub body: Vec<u8>,
}

impl Reply {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why no answer was had.
#[derive(Debug)]
pub enum ClientError {
    /// The host name did not resolve.
    Resolve(String),
    /// Connect, write or read failed.
    Io(std::io::Error),
    /// The TLS handshake or a record failed (certificate, name, protocol).
    Tls(String),
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
            ClientError::Tls(e) => write!(f, "TLS failed: {e}"),
            ClientError::Timeout(t) => write!(f, "no answer within {} ms", t.as_millis()),
            ClientError::BadResponse(why) => write!(f, "bad HTTP answer: {why}"),
        }
    }
}

/// Sends `request` to `url`'s host and port on a new plain connection and reads the answer,
/// all within `timeout`; the connection is closed after it.
pub async fn send(
    url: &HttpUrl,
    request: &[u8],
    timeout: Duration,
    max_body: usize,
) -> Result<Reply, ClientError> {
    let addr = resolve(url)?;
    let once = async {
        let mut conn = Conn::connect(addr, None).await?;
        exchange(&mut conn, request.to_vec(), max_body)
            .await
            .map(|done| done.reply)
            .map_err(|failed| failed.error)
    };
    match monoio::time::timeout(timeout, once).await {
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

/// A finished exchange.
pub(crate) struct Exchanged {
    pub(crate) reply: Reply,
    /// The connection may carry another request: both sides keep it alive, the body was
    /// framed and nothing follows it.
    pub(crate) reusable: bool,
}

/// A failed exchange.
pub(crate) struct Failed {
    pub(crate) error: ClientError,
    /// Not one byte of the answer arrived: on a reused connection the server most likely
    /// closed it while idle, and the request can go again on a fresh one.
    pub(crate) unanswered: bool,
}

/// Writes `request` on `conn` and reads one answer (no timeout here: the caller bounds it).
pub(crate) async fn exchange(
    conn: &mut Conn,
    request: Vec<u8>,
    max_body: usize,
) -> Result<Exchanged, Failed> {
    let silent = |error| Failed {
        error,
        unanswered: true,
    };
    conn.write_all(request).await.map_err(silent)?;
    let mut buf = BytesMut::with_capacity(2048);
    let head = loop {
        if let Some(head) = parse_head(&buf).map_err(answered)? {
            break head;
        }
        if buf.len() > MAX_HEAD {
            return Err(answered(ClientError::BadResponse(
                "response head too large",
            )));
        }
        match conn.read_more(&mut buf).await {
            Ok(0) if buf.is_empty() => {
                return Err(silent(ClientError::BadResponse(
                    "closed before the response head",
                )))
            }
            Ok(0) => return Err(answered(ClientError::BadResponse("closed inside the head"))),
            Ok(_) => {}
            Err(e) if buf.is_empty() => return Err(silent(e)),
            Err(e) => return Err(answered(e)),
        }
    };
    let _ = buf.split_to(head.len);
    let (body, rest_empty) = read_body(conn, &mut buf, head.framing, max_body)
        .await
        .map_err(answered)?;
    let reusable = head.keep_alive && head.framing != Framing::Eof && rest_empty;
    Ok(Exchanged {
        reply: Reply {
            status: head.status,
            headers: head.headers,
            body,
        },
        reusable,
    })
}

fn answered(error: ClientError) -> Failed {
    Failed {
        error,
        unanswered: false,
    }
}

/// Reads the body that follows the head in `buf`; also whether nothing came after it.
async fn read_body(
    conn: &mut Conn,
    buf: &mut BytesMut,
    framing: Framing,
    max_body: usize,
) -> Result<(Vec<u8>, bool), ClientError> {
    let too_large = || ClientError::BadResponse("response body too large");
    if let Framing::Length(n) = framing {
        if n > max_body {
            return Err(too_large());
        }
    }
    let mut chunked = ChunkedDecoder::new(max_body);
    let mut decoded = Vec::new();
    loop {
        match framing {
            Framing::Empty => return Ok((Vec::new(), buf.is_empty())),
            Framing::Length(n) if buf.len() >= n => {
                let body = buf.split_to(n).to_vec();
                return Ok((body, buf.is_empty()));
            }
            Framing::Chunked => {
                let used = chunked.decode(buf, &mut decoded).map_err(|e| match e {
                    ChunkedError::TooLarge { .. } => too_large(),
                    _ => ClientError::BadResponse("bad chunked body"),
                })?;
                let _ = buf.split_to(used);
                if chunked.is_done() {
                    return Ok((decoded, buf.is_empty()));
                }
            }
            Framing::Length(_) | Framing::Eof => {}
        }
        if buf.len() > max_body {
            return Err(too_large());
        }
        match conn.read_more(buf).await? {
            0 if framing == Framing::Eof => return Ok((buf.to_vec(), true)),
            0 => return Err(ClientError::BadResponse("closed inside the body")),
            _ => {}
        }
    }
}

/// How the body's end is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body (204, 304, 1xx).
    Empty,
    /// `Content-Length`.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Up to the end of the stream.
    Eof,
}

/// A parsed response head.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    status: u16,
    /// Bytes of the head, blank line included.
    len: usize,
    framing: Framing,
    /// HTTP/1.1 without `Connection: close`, or HTTP/1.0 with `Connection: keep-alive`.
    keep_alive: bool,
    headers: Vec<(String, String)>,
}

/// The head once it is complete.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, ClientError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(ClientError::BadResponse("not an HTTP/1.x response")),
    };
    let status = resp.code.unwrap_or(0);
    let mut keep_alive = resp.version == Some(1);
    let mut framing = Framing::Eof;
    let mut out = Vec::with_capacity(resp.headers.len());
    for h in resp.headers.iter() {
        let value = String::from_utf8_lossy(h.value).trim().to_owned();
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if !value.to_ascii_lowercase().ends_with("chunked") {
                return Err(ClientError::BadResponse("unknown transfer coding"));
            }
            framing = Framing::Chunked;
        } else if h.name.eq_ignore_ascii_case("content-length") && framing != Framing::Chunked {
            let n = value
                .parse::<usize>()
                .map_err(|_| ClientError::BadResponse("bad Content-Length"))?;
            framing = Framing::Length(n);
        } else if h.name.eq_ignore_ascii_case("connection") {
            let v = value.to_ascii_lowercase();
            if v.contains("close") {
                keep_alive = false;
            } else if v.contains("keep-alive") {
                keep_alive = true;
            }
        }
        out.push((h.name.to_owned(), value));
    }
    if status < 200 || status == 204 || status == 304 {
        framing = Framing::Empty;
    }
    Ok(Some(Head {
        status,
        len,
        framing,
        keep_alive,
        headers: out,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_parsed_with_their_length_headers_and_framing() {
        let raw = b"HTTP/1.0 200 OK\r\nContent-Length: 8\r\n\r\n{\"id\":7}";
        let head = parse_head(raw).unwrap().unwrap();
        assert_eq!(
            (head.status, head.len, head.framing, head.keep_alive),
            (200, raw.len() - 8, Framing::Length(8), false)
        );
        assert_eq!(parse_head(b"HTTP/1.1 401 Unauth").unwrap(), None);
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
        let raw = b"HTTP/1.1 429 Too Many\r\nRetry-After: 2\r\nTransfer-Encoding: chunked\r\n\r\n";
        let head = parse_head(raw).unwrap().unwrap();
        assert_eq!((head.framing, head.keep_alive), (Framing::Chunked, true));
        let reply = Reply {
            status: 429,
            headers: head.headers,
            body: Vec::new(),
        };
        assert_eq!(reply.header("retry-after"), Some("2"));
        let close = parse_head(b"HTTP/1.1 204 No\r\nConnection: close\r\n\r\n").unwrap();
        let close = close.unwrap();
        assert_eq!((close.framing, close.keep_alive), (Framing::Empty, false));
        let old = parse_head(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n").unwrap();
        assert_eq!(old.unwrap().framing, Framing::Eof);
    }

    /// Two exchanges on one connection: a chunked 429 with `Retry-After`, then a sized 200.
    #[test]
    fn one_connection_carries_a_chunked_answer_then_a_sized_one() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).unwrap();
            s.write_all(b"HTTP/1.1 429 Slow\r\nRetry-After: 2\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n").unwrap();
            let _ = s.read(&mut buf).unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .unwrap();
        });
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut conn = Conn::connect(addr, None).await.ok().unwrap();
            let req = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".to_vec();
            let first = exchange(&mut conn, req.clone(), 1024).await.ok().unwrap();
            assert_eq!(first.reply.status, 429);
            assert_eq!(first.reply.header("Retry-After"), Some("2"));
            assert_eq!(first.reply.body, b"abc");
            assert!(first.reusable);
            let second = exchange(&mut conn, req, 1024).await.ok().unwrap();
            assert_eq!(
                (second.reply.status, second.reply.body.as_slice()),
                (200, &b"ok"[..])
            );
            assert!(!second.reusable, "the receiver said close");
        });
        server.join().unwrap();
    }
}
