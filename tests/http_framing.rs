//! Strict HTTP/1.1 message framing at the socket: each ambiguous head is refused with its status
//! and the connection closed, so a request smuggled after it is never answered; a chunked body
//! is decoded; HTTP/1.0 and absolute-form targets get what RFC 9112 says.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{signed_path, Server};

/// A request that must never be answered when it follows a refused one.
const SMUGGLED: &str = "GET /up HTTP/1.1\r\nHost: x\r\n\r\n";

fn connect(server: &Server) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Sends `raw` and reads until the server closes: everything it answered.
fn until_close(server: &Server, raw: &[u8]) -> String {
    let mut s = connect(server);
    s.write_all(raw).unwrap();
    let mut out = Vec::new();
    match s.read_to_end(&mut out) {
        Ok(_) => {}
        // Closing with unread bytes in its socket makes the server's kernel reset the
        // connection; what arrived before the reset is the answer.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the server did not close the connection: {e}"),
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Asserts that `raw` (with a request smuggled after it) got exactly one answer, with `status`,
/// and that the connection was then closed.
fn refused(server: &Server, raw: &str, status: u16) {
    let answer = until_close(server, format!("{raw}{SMUGGLED}").as_bytes());
    assert!(
        answer.starts_with(&format!("HTTP/1.1 {status} ")),
        "{raw:?} → {answer}"
    );
    assert_eq!(
        status_lines(&answer),
        1,
        "the smuggled request was answered: {answer}"
    );
    assert!(answer.contains("Connection: close\r\n"), "{answer}");
}

/// How many responses `answer` holds: status lines, `HTTP/1.1 ` and three digits and a space
/// (error messages may quote `HTTP/1.1` too).
fn status_lines(answer: &str) -> usize {
    answer
        .split("HTTP/1.1 ")
        .skip(1)
        .filter(|rest| {
            let b = rest.as_bytes();
            b.len() > 3 && b[..3].iter().all(u8::is_ascii_digit) && b[3] == b' '
        })
        .count()
}

/// Reads one response (head and Content-Length body) from a kept-alive connection.
fn read_one(r: &mut BufReader<TcpStream>) -> (String, String) {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        assert!(
            r.read_line(&mut line).unwrap() > 0,
            "closed mid-head: {head}"
        );
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .map_or(0, |n| n.trim().parse().unwrap());
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    (head, String::from_utf8(body).unwrap())
}

/// A signed `POST /apps/424242/events` head for `body`, without any length header.
fn event_head(server: &Server, body: &str) -> String {
    let path = signed_path(server, "POST", "/apps/424242/events", &[], body);
    format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
}

const EVENT: &str = r#"{"name":"e","channel":"c","data":"framed"}"#;

#[test]
fn transfer_encoding_with_content_length_is_400_and_closes() {
    let server = Server::start(&[]);
    let head = event_head(&server, EVENT);
    let raw = format!(
        "{head}Transfer-Encoding: chunked\r\nContent-Length: {}\r\n\r\n{:x}\r\n{EVENT}\r\n0\r\n\r\n",
        EVENT.len(),
        EVENT.len()
    );
    refused(&server, &raw, 400);
}

#[test]
fn transfer_encoding_other_than_one_chunked_is_501_and_closes() {
    let server = Server::start(&[]);
    for te in ["gzip", "gzip, chunked", "chunked, chunked", "identity"] {
        let raw = format!("POST /apps/424242/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {te}\r\n\r\n0\r\n\r\n");
        refused(&server, &raw, 501);
    }
    let twice = "POST /apps/424242/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
                 Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    refused(&server, twice, 501);
}

#[test]
fn chunked_body_is_decoded_and_the_connection_kept() {
    let server = Server::start(&[]);
    let (a, b) = EVENT.split_at(10);
    let raw = format!(
        "{}Transfer-Encoding: chunked\r\n\r\n{:x};part=1\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\nX-Trailer: t\r\n\r\n{SMUGGLED}",
        event_head(&server, EVENT),
        a.len(),
        b.len()
    );
    let mut s = connect(&server);
    s.write_all(raw.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    // The signature covers the body's MD5, so a 200 means the decoded body is the one signed.
    let (head, body) = read_one(&mut r);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}{body}");
    let (head, _) = read_one(&mut r);
    assert!(
        head.starts_with("HTTP/1.1 200 "),
        "pipelined request: {head}"
    );
}

#[test]
fn chunked_body_over_the_request_limit_is_413_and_closes() {
    let server = Server::start(&[("REVERB_MAX_REQUEST_SIZE", "100")]);
    let chunk = "x".repeat(60);
    let raw = format!(
        "POST /apps/424242/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
         3c\r\n{chunk}\r\n3c\r\n{chunk}\r\n0\r\n\r\n"
    );
    refused(&server, &raw, 413);
}

#[test]
fn malformed_chunked_body_is_400_and_closes() {
    let server = Server::start(&[]);
    for body in [
        "5\nhello\n0\n\n",
        "+5\r\nhello\r\n0\r\n\r\n",
        "5\r\nhelloX0\r\n\r\n",
    ] {
        let raw = format!(
            "POST /apps/424242/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{body}"
        );
        refused(&server, &raw, 400);
    }
}

#[test]
fn differing_or_signed_content_length_is_400_and_closes() {
    let server = Server::start(&[]);
    for lengths in [
        "Content-Length: 5\r\nContent-Length: 6",
        "Content-Length: 5, 6",
        "Content-Length: +5",
        "Content-Length: 0x5",
    ] {
        let raw =
            format!("POST /apps/424242/events HTTP/1.1\r\nHost: x\r\n{lengths}\r\n\r\nhello!");
        refused(&server, &raw, 400);
    }
}

#[test]
fn http11_without_exactly_one_host_is_400() {
    let server = Server::start(&[]);
    refused(&server, "GET /up HTTP/1.1\r\n\r\n", 400);
    refused(
        &server,
        "GET /up HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        400,
    );
    let upgrade = "GET /app/test-key?protocol=7 HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                   Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    refused(&server, upgrade, 400);
}

#[test]
fn http10_closes_unless_it_asks_for_keep_alive() {
    let server = Server::start(&[]);
    let answer = until_close(&server, b"GET /up HTTP/1.0\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.contains("Connection: close\r\n"), "{answer}");

    let mut s = connect(&server);
    s.write_all(b"GET /up HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s);
    let (head, _) = read_one(&mut r);
    assert!(head.contains("Connection: keep-alive\r\n"), "{head}");
    r.get_mut().write_all(b"GET /up HTTP/1.0\r\n\r\n").unwrap();
    let (head, _) = read_one(&mut r);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(head.contains("Connection: close\r\n"), "{head}");
}

#[test]
fn http10_transfer_encoding_is_400() {
    let server = Server::start(&[]);
    let raw = "POST /apps/424242/events HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    refused(&server, raw, 400);
}

#[test]
fn http10_websocket_upgrade_is_refused() {
    let server = Server::start(&[]);
    let raw = "GET /app/test-key?protocol=7 HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
               Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    let answer = until_close(&server, raw.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("requires HTTP/1.1"), "{answer}");
}

#[test]
fn absolute_form_targets_are_routed_like_origin_form() {
    let server = Server::start(&[]);
    let port = server.port;
    let answer = until_close(
        &server,
        format!("GET http://127.0.0.1:{port}/up HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");

    let mut s = connect(&server);
    let upgrade = format!(
        "GET http://127.0.0.1:{port}/app/test-key?protocol=7 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    s.write_all(upgrade.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 101 "), "{status}");
}
