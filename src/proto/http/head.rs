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
    /// The minor HTTP version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub version: u8,
    /// Header lines in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// How many bytes of the input the head occupied, including the blank line.
    pub head_len: usize,
}

impl RequestHead {
    /// The values of every header with this name (compared case-insensitively), in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first header with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether a comma-separated header (e.g. `Connection`) contains `token`, case-insensitively.
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers_named(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
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
    let (path, query) = split_target(req.path.unwrap_or("/"));
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
        version: req.version.unwrap_or(1),
        headers,
        head_len,
    }))
}

/// Splits a request target into path and query. An absolute-form target
/// (`http://host/path?q`, which RFC 9112 §3.2.2 says a server must accept) loses its scheme and
/// authority first, so it is routed like `/path?q`; an empty path then means `/`.
fn split_target(target: &str) -> (&str, &str) {
    let absolute = ["http://", "https://"].iter().find_map(|scheme| {
        let prefix = target.get(..scheme.len())?;
        prefix
            .eq_ignore_ascii_case(scheme)
            .then(|| &target[scheme.len()..])
    });
    let origin = match absolute {
        Some(rest) => &rest[rest.find(['/', '?']).unwrap_or(rest.len())..],
        None => target,
    };
    let (path, query) = origin.split_once('?').unwrap_or((origin, ""));
    (if path.is_empty() { "/" } else { path }, query)
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
    fn absolute_form_is_routed_like_origin_form() {
        for (target, path, query) in [
            (
                "http://example.com/app/key?protocol=7",
                "/app/key",
                "protocol=7",
            ),
            ("HTTPS://example.com:443/up", "/up", ""),
            ("http://example.com", "/", ""),
            ("http://example.com?a=1", "/", "a=1"),
            ("/plain?x", "/plain", "x"),
            ("ftp://example.com/x", "ftp://example.com/x", ""),
        ] {
            let raw = format!("GET {target} HTTP/1.1\r\nHost: example.com\r\n\r\n");
            let head = parse_head(raw.as_bytes()).unwrap().unwrap();
            assert_eq!(
                (head.path.as_str(), head.query.as_str()),
                (path, query),
                "{target}"
            );
        }
    }

    #[test]
    fn version_is_kept() {
        let head = |raw: &[u8]| parse_head(raw).unwrap().unwrap().version;
        assert_eq!(head(b"GET / HTTP/1.0\r\n\r\n"), 0);
        assert_eq!(head(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 1);
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
