//! HTTP/1.1 request heads: parsed with httparse into an owned, bounded form.
//!
//! Owns the limits on what a client may send before its body (head size, header count) and
//! the mapping of a malformed head to the status the client gets. Never touches sockets: the
//! caller hands in the bytes read so far.

use std::fmt;

/// The largest request head accepted; a longer one is answered with 431.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// The most header lines accepted in one head.
pub const MAX_HEADERS: usize = 64;

/// A parsed request line and its headers, owned so the read buffer can be reused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method as sent, e.g. `GET`.
    pub method: String,
    /// The path without the query string, still percent-encoded.
    pub path: String,
    /// The raw query string after `?` (empty when there is none).
    pub query: String,
    /// Header lines in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// How many bytes of the input the head occupied, including the blank line.
    pub head_len: usize,
}

impl RequestHead {
    /// The first header with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether a comma-separated header (e.g. `Connection`) contains `token`, case-insensitively.
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// The declared body length; `Ok(0)` when absent.
    pub fn content_length(&self) -> Result<usize, HeadError> {
        match self.header("content-length") {
            None => Ok(0),
            Some(v) => v.trim().parse().map_err(|_| HeadError::BadContentLength),
        }
    }
}

/// Why a head was refused. Each variant names the HTTP status the client gets.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeadError {
    /// The head is longer than [`MAX_HEAD_BYTES`] or has more than [`MAX_HEADERS`] lines: 431.
    TooLarge,
    /// The bytes are not an HTTP/1.x request head: 400, with httparse's reason.
    Malformed(&'static str),
    /// A header value is not valid UTF-8: 400.
    NonUtf8Header,
    /// `Content-Length` is not a number: 400.
    BadContentLength,
}

impl HeadError {
    /// The HTTP status code this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            HeadError::TooLarge => 431,
            _ => 400,
        }
    }
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadError::TooLarge => write!(
                f,
                "request head exceeds {MAX_HEAD_BYTES} bytes or {MAX_HEADERS} header lines"
            ),
            HeadError::Malformed(why) => write!(f, "malformed HTTP request: {why}"),
            HeadError::NonUtf8Header => f.write_str("a header value is not valid UTF-8"),
            HeadError::BadContentLength => f.write_str("Content-Length is not a number"),
        }
    }
}

impl std::error::Error for HeadError {}

/// Parses a request head from the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed (and `buf` is still within the size limit),
/// `Ok(Some(head))` when a full head was found.
pub fn parse_head(buf: &[u8]) -> Result<Option<RequestHead>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let status = match req.parse(buf) {
        Ok(s) => s,
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
        Err(e) => return Err(HeadError::Malformed(error_reason(e))),
    };
    let head_len = match status {
        httparse::Status::Partial if buf.len() > MAX_HEAD_BYTES => return Err(HeadError::TooLarge),
        httparse::Status::Partial => return Ok(None),
        httparse::Status::Complete(n) if n > MAX_HEAD_BYTES => return Err(HeadError::TooLarge),
        httparse::Status::Complete(n) => n,
    };
    let target = req.path.unwrap_or("/");
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, q),
        None => (target, ""),
    };
    let headers = req
        .headers
        .iter()
        .map(|h| {
            std::str::from_utf8(h.value)
                .map(|v| (h.name.to_owned(), v.to_owned()))
                .map_err(|_| HeadError::NonUtf8Header)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(RequestHead {
        method: req.method.unwrap_or("").to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        head_len,
    }))
}

fn error_reason(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid token in request line",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "unsupported HTTP version",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_complete_head() {
        let raw = b"GET /app/key?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\nrest";
        let head = parse_head(raw).unwrap().unwrap();
        assert_eq!(head.method, "GET");
        assert_eq!(head.path, "/app/key");
        assert_eq!(head.query, "protocol=7");
        assert_eq!(head.header("upgrade"), Some("websocket"));
        assert_eq!(&raw[head.head_len..], b"rest");
    }

    #[test]
    fn partial_head_needs_more() {
        assert_eq!(parse_head(b"GET / HTTP/1.1\r\nHost"), Ok(None));
    }

    #[test]
    fn oversized_head_is_431() {
        let mut raw = b"GET / HTTP/1.1\r\nX: ".to_vec();
        raw.resize(MAX_HEAD_BYTES + 10, b'a');
        assert_eq!(parse_head(&raw).unwrap_err().status(), 431);
    }

    #[test]
    fn garbage_is_400() {
        let err = parse_head(b"\x01\x02 nonsense\r\n\r\n").unwrap_err();
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn connection_token_lookup() {
        let raw = b"GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\n\r\n";
        let head = parse_head(raw).unwrap().unwrap();
        assert!(head.header_has_token("connection", "upgrade"));
    }
}
