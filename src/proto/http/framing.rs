//! Request message framing (RFC 9112 §6, RFC 9110 §8.6): where a request's body ends, decided
//! from its head alone, and whether the connection may carry another request after it.
//!
//! Strict on purpose. A proxy in front of ringcast may read an ambiguous head differently (one
//! `Content-Length` of two, or `Content-Length` instead of `Transfer-Encoding`), and the bytes it
//! counts as this request's body would then be read here as a second, hidden request. So every
//! ambiguity is refused and the connection closed. Never reads a socket: it only looks at a
//! parsed [`RequestHead`].

use std::fmt;

use super::head::RequestHead;

/// How the body of an accepted request is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// Exactly this many bytes follow the head (0 when no `Content-Length` was sent).
    Length(usize),
    /// `Transfer-Encoding: chunked`, decoded by [`super::chunked::ChunkedDecoder`].
    Chunked,
}

/// Why a request's framing is refused. Every one of them is answered and the connection closed,
/// since where the next request would begin is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FramingError {
    /// `Transfer-Encoding` and `Content-Length` together: 400 (RFC 9112 §6.3).
    LengthWithTransferEncoding,
    /// `Transfer-Encoding` on an HTTP/1.0 request, whose framing is then faulty: 400.
    TransferEncodingOnHttp10,
    /// A `Transfer-Encoding` other than a single `chunked`: 501.
    UnsupportedTransferEncoding,
    /// A `Content-Length` value that is not plain decimal digits (e.g. `+5`, `5 5`): 400.
    BadContentLength,
    /// Repeated `Content-Length` values that differ: 400.
    ConflictingContentLength,
    /// An HTTP/1.1 request without a `Host` header, or any request with more than one: 400.
    HostCount(usize),
}

impl FramingError {
    /// The HTTP status code this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            FramingError::UnsupportedTransferEncoding => 501,
            _ => 400,
        }
    }
}

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FramingError::LengthWithTransferEncoding => {
                f.write_str("send either Content-Length or Transfer-Encoding, not both")
            }
            FramingError::TransferEncodingOnHttp10 => {
                f.write_str("Transfer-Encoding needs HTTP/1.1; send Content-Length instead")
            }
            FramingError::UnsupportedTransferEncoding => f.write_str(
                "unsupported Transfer-Encoding: only a single `chunked` is accepted, or send \
                 Content-Length",
            ),
            FramingError::BadContentLength => {
                f.write_str("Content-Length must be a plain decimal number of bytes")
            }
            FramingError::ConflictingContentLength => {
                f.write_str("repeated Content-Length headers with different values")
            }
            FramingError::HostCount(0) => f.write_str("an HTTP/1.1 request needs a Host header"),
            FramingError::HostCount(n) => {
                write!(f, "{n} Host headers; a request carries exactly one")
            }
        }
    }
}

impl std::error::Error for FramingError {}

/// Decides how the body of the request with this head is delimited, or refuses the head.
pub fn body_framing(head: &RequestHead) -> Result<BodyFraming, FramingError> {
    let hosts = head.headers_named("host").count();
    if hosts > 1 || (hosts == 0 && head.version >= 1) {
        return Err(FramingError::HostCount(hosts));
    }
    let has_length = head.headers_named("content-length").next().is_some();
    if head.headers_named("transfer-encoding").next().is_some() {
        if head.version == 0 {
            return Err(FramingError::TransferEncodingOnHttp10);
        }
        if has_length {
            return Err(FramingError::LengthWithTransferEncoding);
        }
        let mut codings = list_elements(head, "transfer-encoding");
        return match (codings.next(), codings.next()) {
            (Some(c), None) if c.eq_ignore_ascii_case("chunked") => Ok(BodyFraming::Chunked),
            _ => Err(FramingError::UnsupportedTransferEncoding),
        };
    }
    let mut length = None;
    // Empty elements are not skipped here: an empty Content-Length is no length at all.
    let values = head
        .headers_named("content-length")
        .flat_map(|v| v.split(','));
    for value in values.map(trim_ows) {
        let n = decimal(value).ok_or(FramingError::BadContentLength)?;
        if length.is_some_and(|l| l != n) {
            return Err(FramingError::ConflictingContentLength);
        }
        length = Some(n);
    }
    Ok(BodyFraming::Length(length.unwrap_or(0)))
}

/// Whether the connection stays open after answering this request: HTTP/1.1 unless the client
/// sent `Connection: close`; HTTP/1.0 only when it asked for `Connection: keep-alive`.
pub fn keep_alive(head: &RequestHead) -> bool {
    if head.header_has_token("connection", "close") {
        return false;
    }
    head.version >= 1 || head.header_has_token("connection", "keep-alive")
}

/// The comma-separated elements of every `name` header, trimmed, empty ones skipped (RFC 9110
/// §5.6.1 lets a recipient ignore them).
fn list_elements<'a>(head: &'a RequestHead, name: &'a str) -> impl Iterator<Item = &'a str> {
    head.headers_named(name)
        .flat_map(|v| v.split(','))
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

/// `text` without leading and trailing optional whitespace (spaces and tabs).
fn trim_ows(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

/// A plain decimal number (digits only: no sign, no spaces inside). One too large for `usize`
/// is `usize::MAX`, which any body limit refuses with 413.
fn decimal(text: &str) -> Option<usize> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse().unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::http::parse_head;

    fn framing_of(version: &str, headers: &str) -> Result<BodyFraming, FramingError> {
        let raw = format!("POST /apps/1/events {version}\r\n{headers}\r\n");
        body_framing(&parse_head(raw.as_bytes()).unwrap().unwrap())
    }

    fn framing(headers: &str) -> Result<BodyFraming, FramingError> {
        framing_of("HTTP/1.1", &format!("Host: x\r\n{headers}"))
    }

    #[test]
    fn content_length_absent_equal_or_repeated_equal() {
        assert_eq!(framing(""), Ok(BodyFraming::Length(0)));
        assert_eq!(
            framing("Content-Length: 12\r\n"),
            Ok(BodyFraming::Length(12))
        );
        let twice = "Content-Length: 7\r\nContent-Length: 7\r\n";
        assert_eq!(framing(twice), Ok(BodyFraming::Length(7)));
        assert_eq!(
            framing("Content-Length: 7, 7\r\n"),
            Ok(BodyFraming::Length(7))
        );
        let huge = "Content-Length: 99999999999999999999999\r\n";
        assert_eq!(framing(huge), Ok(BodyFraming::Length(usize::MAX)));
    }

    #[test]
    fn differing_or_signed_content_length_is_400() {
        let differ = "Content-Length: 5\r\nContent-Length: 6\r\n";
        assert_eq!(framing(differ), Err(FramingError::ConflictingContentLength));
        assert_eq!(
            framing("Content-Length: 5, 6\r\n"),
            Err(FramingError::ConflictingContentLength)
        );
        for bad in ["+5", "-5", "5 5", "0x5", "5.0", "", "5,,5"] {
            let err = framing(&format!("Content-Length: {bad}\r\n")).unwrap_err();
            assert_eq!(err, FramingError::BadContentLength, "{bad:?}");
            assert_eq!(err.status(), 400);
        }
    }

    #[test]
    fn transfer_encoding_rules() {
        assert_eq!(
            framing("Transfer-Encoding: chunked\r\n"),
            Ok(BodyFraming::Chunked)
        );
        assert_eq!(
            framing("Transfer-Encoding: Chunked\r\n"),
            Ok(BodyFraming::Chunked)
        );
        let both = "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n";
        assert_eq!(framing(both), Err(FramingError::LengthWithTransferEncoding));
        for other in [
            "gzip",
            "gzip, chunked",
            "chunked, chunked",
            "chunked\r\nTransfer-Encoding: chunked",
            "identity",
            "chunked;x=1",
        ] {
            let err = framing(&format!("Transfer-Encoding: {other}\r\n")).unwrap_err();
            assert_eq!(err, FramingError::UnsupportedTransferEncoding, "{other:?}");
            assert_eq!(err.status(), 501);
        }
        let old = framing_of("HTTP/1.0", "Transfer-Encoding: chunked\r\n");
        assert_eq!(old, Err(FramingError::TransferEncodingOnHttp10));
    }

    #[test]
    fn host_exactly_once_on_http11_at_most_once_on_http10() {
        assert_eq!(framing_of("HTTP/1.1", ""), Err(FramingError::HostCount(0)));
        let two = "Host: a\r\nHost: b\r\n";
        assert_eq!(framing_of("HTTP/1.1", two), Err(FramingError::HostCount(2)));
        assert_eq!(framing_of("HTTP/1.0", two), Err(FramingError::HostCount(2)));
        assert_eq!(framing_of("HTTP/1.0", ""), Ok(BodyFraming::Length(0)));
        assert!(FramingError::HostCount(0).to_string().contains("Host"));
    }

    #[test]
    fn keep_alive_by_version_and_connection_header() {
        let head = |raw: &str| parse_head(raw.as_bytes()).unwrap().unwrap();
        assert!(keep_alive(&head("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
        assert!(!keep_alive(&head(
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )));
        assert!(!keep_alive(&head("GET / HTTP/1.0\r\n\r\n")));
        assert!(keep_alive(&head(
            "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"
        )));
    }
}
