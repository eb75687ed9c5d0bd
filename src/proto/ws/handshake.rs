//! RFC 6455 §4 opening handshake: checking an upgrade request and building the 101 response.
//!
//! Owns the accept-key computation, the rules an HTTP request must meet to become a WebSocket,
//! the HTTP status each failure is answered with, and the bytes of the 101 response and of a
//! client upgrade request. It never negotiates extensions (permessage-deflate is declined by
//! omission) or subprotocols, and never routes: whether `/app/{key}` names a real app is the
//! caller's decision.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha1::{Digest, Sha1};

use crate::proto::http::RequestHead;

/// The fixed GUID RFC 6455 §1.3 appends to the client's key.
const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only protocol version RFC 6455 defines.
const VERSION: &str = "13";

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)).
pub fn accept_key(sec_websocket_key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(sec_websocket_key.as_bytes());
    sha.update(WS_GUID.as_bytes());
    STANDARD.encode(sha.finalize())
}

/// An accepted upgrade: what the 101 response needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// The `Sec-WebSocket-Accept` value.
    pub accept: String,
}

/// Why a request cannot be upgraded; each variant names the HTTP status it is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The method is not GET: 405 (with `Allow: GET`).
    MethodNotAllowed,
    /// The request is HTTP/1.0; an upgrade needs HTTP/1.1 (RFC 6455 §4.1): 400.
    Http10,
    /// `Upgrade: websocket` or `Connection: upgrade` is missing: 400.
    NotAnUpgrade,
    /// There is no `Sec-WebSocket-Key`: 400.
    MissingKey,
    /// `Sec-WebSocket-Key` is not the base64 of 16 bytes: 400.
    InvalidKey,
    /// `Sec-WebSocket-Version` is missing or not 13: 426 with `Sec-WebSocket-Version: 13`, which
    /// tells the client which version to retry with (RFC 6455 §4.4).
    UnsupportedVersion,
}

impl HandshakeError {
    /// The HTTP status code this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            HandshakeError::MethodNotAllowed => 405,
            HandshakeError::Http10
            | HandshakeError::NotAnUpgrade
            | HandshakeError::MissingKey
            | HandshakeError::InvalidKey => 400,
            HandshakeError::UnsupportedVersion => 426,
        }
    }

    /// Headers the error response must carry besides the usual ones.
    pub fn extra_headers(&self) -> &'static [(&'static str, &'static str)] {
        match self {
            // RFC 9110 §15.5.6: a 405 must list the allowed methods.
            HandshakeError::MethodNotAllowed => &[("Allow", "GET")],
            HandshakeError::UnsupportedVersion => &[("Sec-WebSocket-Version", VERSION)],
            _ => &[],
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HandshakeError::MethodNotAllowed => "WebSocket upgrade requires the GET method",
            HandshakeError::Http10 => {
                "WebSocket upgrade requires HTTP/1.1; this request is HTTP/1.0"
            }
            HandshakeError::NotAnUpgrade => {
                "not a WebSocket upgrade: needs `Upgrade: websocket` and `Connection: Upgrade`"
            }
            HandshakeError::MissingKey => "missing Sec-WebSocket-Key header",
            HandshakeError::InvalidKey => "Sec-WebSocket-Key is not the base64 of 16 bytes",
            HandshakeError::UnsupportedVersion => {
                "unsupported Sec-WebSocket-Version (only 13 is supported)"
            }
        })
    }
}

impl std::error::Error for HandshakeError {}

/// Checks that `head` is a valid RFC 6455 upgrade request and computes the accept key.
///
/// Checks run in the order a client can best act on: method, then upgrade headers, then version
/// (so a client speaking another version learns which one to use), then the key.
pub fn check_upgrade(head: &RequestHead) -> Result<Upgrade, HandshakeError> {
    if head.method != "GET" {
        return Err(HandshakeError::MethodNotAllowed);
    }
    if head.version == 0 {
        return Err(HandshakeError::Http10);
    }
    if !head.header_has_token("upgrade", "websocket")
        || !head.header_has_token("connection", "upgrade")
    {
        return Err(HandshakeError::NotAnUpgrade);
    }
    if head.header("sec-websocket-version").map(str::trim) != Some(VERSION) {
        return Err(HandshakeError::UnsupportedVersion);
    }
    let key = head
        .header("sec-websocket-key")
        .ok_or(HandshakeError::MissingKey)?
        .trim();
    match STANDARD.decode(key) {
        Ok(raw) if raw.len() == 16 => Ok(Upgrade {
            accept: accept_key(key),
        }),
        _ => Err(HandshakeError::InvalidKey),
    }
}

/// The complete `101 Switching Protocols` response. No `Sec-WebSocket-Extensions` or
/// `Sec-WebSocket-Protocol` header: nothing is negotiated.
pub fn response_101(upgrade: &Upgrade) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\
         \r\n",
        upgrade.accept
    )
    .into_bytes()
}

/// A client upgrade request for `path_and_query` on `host` with the given base64 `key`.
/// Used by our tests and the load generator; it offers no extensions.
pub fn client_request(host: &str, path_and_query: &str, key: &str) -> Vec<u8> {
    format!(
        "GET {path_and_query} HTTP/1.1\r\n\
         Host: {host}\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\n\
         Sec-WebSocket-Version: {VERSION}\r\n\
         \r\n"
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::http::parse_head;

    const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    fn head(raw: &str) -> RequestHead {
        parse_head(raw.as_bytes()).unwrap().unwrap()
    }

    fn request_with(method: &str, extra: &str) -> RequestHead {
        head(&format!(
            "{method} /app/k HTTP/1.1\r\nHost: x\r\n{extra}\r\n"
        ))
    }

    const GOOD: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
                        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

    #[test]
    fn rfc_accept_key_example() {
        assert_eq!(accept_key(RFC_KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn client_request_is_accepted() {
        let raw = client_request("localhost:8080", "/app/key?protocol=7", RFC_KEY);
        let h = parse_head(&raw).unwrap().unwrap();
        assert_eq!(h.path, "/app/key");
        let up = check_upgrade(&h).unwrap();
        assert_eq!(up.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        let resp = String::from_utf8(response_101(&up)).unwrap();
        assert!(resp.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(resp.contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(resp.ends_with("\r\n\r\n"));
        assert!(!resp.to_ascii_lowercase().contains("extensions"));
    }

    #[test]
    fn headers_are_case_insensitive() {
        let h = request_with(
            "GET",
            "upgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n\
             sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
        );
        assert!(check_upgrade(&h).is_ok());
    }

    #[test]
    fn non_get_is_405_with_allow() {
        let err = check_upgrade(&request_with("POST", GOOD)).unwrap_err();
        assert_eq!(err, HandshakeError::MethodNotAllowed);
        assert_eq!(err.status(), 405);
        assert_eq!(err.extra_headers(), &[("Allow", "GET")]);
    }

    #[test]
    fn http10_upgrade_is_400() {
        let h = head(&format!("GET /app/k HTTP/1.0\r\nHost: x\r\n{GOOD}\r\n"));
        let err = check_upgrade(&h).unwrap_err();
        assert_eq!((err, err.status()), (HandshakeError::Http10, 400));
        assert!(err.to_string().contains("HTTP/1.1"));
    }

    #[test]
    fn missing_upgrade_headers_is_400() {
        let no_upgrade = GOOD.replace("Upgrade: websocket\r\n", "");
        let no_conn = GOOD.replace("Connection: Upgrade", "Connection: keep-alive");
        for extra in [no_upgrade, no_conn] {
            let err = check_upgrade(&request_with("GET", &extra)).unwrap_err();
            assert_eq!((err, err.status()), (HandshakeError::NotAnUpgrade, 400));
        }
    }

    #[test]
    fn wrong_or_missing_version_is_426() {
        let v8 = GOOD.replace("Version: 13", "Version: 8");
        let none = GOOD.replace("Sec-WebSocket-Version: 13\r\n", "");
        for extra in [v8, none] {
            let err = check_upgrade(&request_with("GET", &extra)).unwrap_err();
            assert_eq!(err, HandshakeError::UnsupportedVersion);
            assert_eq!(err.status(), 426);
            assert_eq!(err.extra_headers(), &[("Sec-WebSocket-Version", "13")]);
        }
    }

    #[test]
    fn missing_or_bad_key_is_400() {
        let none = GOOD.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "");
        let err = check_upgrade(&request_with("GET", &none)).unwrap_err();
        assert_eq!((err, err.status()), (HandshakeError::MissingKey, 400));
        // Not base64; base64 of 15 bytes; base64 of 17 bytes.
        for key in [
            "not base64!!",
            "AAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            let extra = GOOD.replace(RFC_KEY, key);
            let err = check_upgrade(&request_with("GET", &extra)).unwrap_err();
            assert_eq!(
                (err, err.status()),
                (HandshakeError::InvalidKey, 400),
                "{key}"
            );
        }
    }
}
