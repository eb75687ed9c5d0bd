//! HTTP/1.1 responses as plain values, turned into wire bytes in one place.
//!
//! Owns the status line, the reason phrases, and the framing headers (`Content-Length`,
//! `Connection`) so that no handler can write them twice or forget them. It never writes to a
//! socket: the shard takes the bytes from [`Response::to_bytes`] and sends them.

/// An HTTP response ready to be serialised: status, extra headers and a complete body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, e.g. 200.
    pub status: u16,
    /// Header lines in the order they are written. `Content-Length` and `Connection` are
    /// written by [`Response::to_bytes`] and ignored here (except `Connection` on a 101).
    pub headers: Vec<(String, String)>,
    /// The whole body; ringcast never streams a response.
    pub body: Vec<u8>,
}

impl Response {
    /// An empty response with this status.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A JSON response; `body` must already be serialised JSON.
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response::new(status)
            .with_header("Content-Type", "application/json")
            .with_body(body)
    }

    /// A plain-text response, UTF-8.
    pub fn text(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response::new(status)
            .with_header("Content-Type", "text/plain; charset=utf-8")
            .with_body(body)
    }

    /// An error response with the JSON body `{"error":"<message>"}`.
    ///
    /// The Pusher server SDKs do not parse error bodies: Node's `RequestError.body`, Python's
    /// `PusherBadRequest(body)`/`PusherBadAuth(body)` and PHP's `ApiErrorException($body)` hand
    /// the body text to the application as is. A one-field JSON object keeps that text readable
    /// while staying machine-readable (sockudo uses the same `error` key).
    pub fn error(status: u16, message: &str) -> Self {
        let body = serde_json::json!({ "error": message }).to_string();
        Response::json(status, body)
    }

    /// Adds a header line.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The response as wire bytes: status line, headers, framing headers, blank line, body.
    ///
    /// `keep_alive` chooses `Connection: keep-alive` or `close`. Responses that must not carry
    /// a body (1xx, 204, 304) get no `Content-Length` and no body (RFC 9110 §8.6), and a 101
    /// keeps the caller's own `Connection: Upgrade` instead of ours.
    pub fn to_bytes(&self, keep_alive: bool) -> Vec<u8> {
        let bodiless = self.status < 200 || self.status == 204 || self.status == 304;
        let mut out = Vec::with_capacity(128 + self.body.len());
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(self.status.to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(reason_phrase(self.status).as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.headers {
            let framing = name.eq_ignore_ascii_case("content-length")
                || (name.eq_ignore_ascii_case("connection") && self.status != 101);
            if framing {
                continue;
            }
            push_header(&mut out, name, value);
        }
        if !bodiless {
            push_header(&mut out, "Content-Length", &self.body.len().to_string());
        }
        if self.status != 101 {
            let conn = if keep_alive { "keep-alive" } else { "close" };
            push_header(&mut out, "Connection", conn);
        }
        out.extend_from_slice(b"\r\n");
        if !bodiless {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

/// Writes one header line, dropping CR and LF so a value can never split the head
/// (header injection) whatever a caller put in it.
fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend(name.bytes().filter(|b| *b != b'\r' && *b != b'\n'));
    out.extend_from_slice(b": ");
    out.extend(value.bytes().filter(|b| *b != b'\r' && *b != b'\n'));
    out.extend_from_slice(b"\r\n");
}

/// The standard reason phrase for a status code (RFC 9110 §15), or `"Unknown"`.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(r: &Response, keep_alive: bool) -> String {
        String::from_utf8(r.to_bytes(keep_alive)).unwrap()
    }

    #[test]
    fn json_response_has_status_line_type_length_and_connection() {
        let r = Response::json(200, "{}");
        assert_eq!(
            text_of(&r, true),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\
             Connection: keep-alive\r\n\r\n{}"
        );
        assert!(text_of(&r, false).contains("Connection: close\r\n"));
    }

    #[test]
    fn error_body_is_escaped_json_with_error_key() {
        let r = Response::error(401, "bad \"sig\"\n");
        assert_eq!(r.status, 401);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["error"], "bad \"sig\"\n");
        assert!(text_of(&r, true).starts_with("HTTP/1.1 401 Unauthorized\r\n"));
    }

    #[test]
    fn caller_framing_headers_are_not_duplicated() {
        let r = Response::text(200, "hi")
            .with_header("content-length", "99")
            .with_header("Connection", "upgrade");
        let s = text_of(&r, true);
        assert_eq!(s.matches("Content-Length").count(), 1);
        assert!(s.contains("Content-Length: 2\r\n"));
        assert!(!s.contains("upgrade"));
    }

    #[test]
    fn switching_protocols_keeps_upgrade_headers_and_has_no_length() {
        let r = Response::new(101)
            .with_header("Upgrade", "websocket")
            .with_header("Connection", "Upgrade");
        let s = text_of(&r, true);
        assert_eq!(
            s,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        );
    }

    #[test]
    fn no_content_drops_body() {
        let r = Response::new(204).with_body("x");
        assert_eq!(
            text_of(&r, false),
            "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn header_values_cannot_inject_lines() {
        let r = Response::new(200).with_header("X-A", "a\r\nSet-Cookie: x");
        assert!(text_of(&r, true).contains("X-A: aSet-Cookie: x\r\n"));
    }

    #[test]
    fn reason_phrases() {
        assert_eq!(reason_phrase(413), "Payload Too Large");
        assert_eq!(reason_phrase(431), "Request Header Fields Too Large");
        assert_eq!(reason_phrase(299), "Unknown");
    }
}
