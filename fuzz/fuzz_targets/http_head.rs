//! Fuzzes `proto::http::parse_head` and what the server does next with a parsed head (header
//! lookups, body framing and keep-alive, a chunked body after the head, the WebSocket upgrade
//! check and the 101 response).
//!
//! Beyond "never panics": a parsed head must lie within the input and the size limit, and an
//! input refused as too large must really be over a limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringcast::proto::http::head::{MAX_HEADERS, MAX_HEAD_BYTES};
use ringcast::proto::http::{
    body_framing, keep_alive, parse_head, BodyFraming, ChunkedDecoder, HeadError,
};
use ringcast::proto::ws::{check_upgrade, response_101};

fuzz_target!(|data: &[u8]| {
    match parse_head(data) {
        Ok(Some(head)) => {
            assert!(head.head_len <= data.len());
            assert!(head.head_len <= MAX_HEAD_BYTES);
            assert!(!head.path.contains('?'), "query left in path");
            let _ = head.header("host");
            let _ = head.header_has_token("connection", "upgrade");
            let _ = keep_alive(&head);
            match body_framing(&head) {
                Ok(BodyFraming::Chunked) => {
                    let rest = &data[head.head_len..];
                    let mut body = Vec::new();
                    if let Ok(used) = ChunkedDecoder::new(1024).decode(rest, &mut body) {
                        assert!(used <= rest.len() && body.len() <= 1024);
                    }
                }
                Ok(BodyFraming::Length(_)) => {}
                Err(e) => assert!(matches!(e.status(), 400 | 501), "{e}"),
            }
            match check_upgrade(&head) {
                Ok(upgrade) => {
                    let resp = response_101(&upgrade);
                    assert!(resp.starts_with(b"HTTP/1.1 101 "));
                    assert!(resp.ends_with(b"\r\n\r\n"));
                }
                Err(e) => {
                    let _ = (e.status(), e.to_string());
                }
            }
        }
        Ok(None) => assert!(data.len() <= MAX_HEAD_BYTES, "partial head over the limit"),
        Err(e) => {
            let status = e.status();
            assert!(status == 400 || status == 431);
            if e == HeadError::TooLarge {
                // Either too many bytes or too many header lines (each ends in a newline).
                let lines = data.iter().filter(|&&b| b == b'\n').count();
                assert!(data.len() > MAX_HEAD_BYTES || lines >= MAX_HEADERS);
            }
            let _ = e.to_string();
        }
    }
});
