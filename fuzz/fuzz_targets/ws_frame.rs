//! Fuzzes `proto::ws::Decoder` (server role) with arbitrary bytes in arbitrary chunkings.
//!
//! The first four input bytes seed the chunk sizes; the rest is the byte stream. The stream is
//! decoded twice, once whole and once chunk by chunk as a socket might deliver it, and the two
//! outcomes (every message, then the terminal error if any) must be identical: a decoder whose
//! answer depends on how TCP happened to split the bytes is broken even if it never panics.
//! Every message is also checked against the decoder's documented guarantees.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use ringcast::proto::ws::{is_valid_received_code, Decoder, Message, Role, WsError};

/// Small enough that fuzzed length fields reach the 1009 path often; big enough for real frames.
const MAX_MESSAGE: usize = 64 * 1024;

/// What decoding a whole stream produced: the messages, then how it stopped.
#[derive(Debug, PartialEq)]
struct Outcome {
    messages: Vec<Message>,
    error: Option<WsError>,
}

fuzz_target!(|data: &[u8]| {
    let (seed, stream) = match data {
        [a, b, c, d, rest @ ..] => (u32::from_le_bytes([*a, *b, *c, *d]), rest),
        _ => return,
    };
    let whole = decode_in_chunks(stream, &mut std::iter::once(stream.len()));
    let chunked = decode_in_chunks(stream, &mut chunk_sizes(seed));
    assert_eq!(
        whole, chunked,
        "outcome depends on chunking (seed {seed:#x})"
    );
    for m in &whole.messages {
        check_guarantees(m);
    }
    if let Some(e) = &whole.error {
        // Every error maps to a close code the shell can send.
        assert!(matches!(e.close_code(), 1002 | 1007 | 1009), "{e:?}");
    }
});

/// An endless sequence of chunk sizes from a xorshift generator: mostly tiny (1–8 bytes, the
/// split-header cases), sometimes large.
fn chunk_sizes(seed: u32) -> impl Iterator<Item = usize> {
    let mut x = seed | 1;
    std::iter::from_fn(move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        Some(if x & 0x80 == 0 {
            1 + (x as usize >> 8) % 8
        } else {
            1 + (x as usize >> 8) % 4096
        })
    })
}

/// Feeds `stream` to a fresh decoder in chunks of the given sizes, draining after each chunk.
fn decode_in_chunks(stream: &[u8], sizes: &mut dyn Iterator<Item = usize>) -> Outcome {
    let mut decoder = Decoder::new(Role::Server, MAX_MESSAGE);
    let mut buf = BytesMut::new();
    let mut messages = Vec::new();
    let mut rest = stream;
    loop {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(Message::Close(c))) => {
                    // Terminal: later calls must keep returning nothing.
                    messages.push(Message::Close(c));
                    assert_eq!(decoder.decode(&mut buf), Ok(None));
                    return Outcome {
                        messages,
                        error: None,
                    };
                }
                Ok(Some(m)) => messages.push(m),
                Ok(None) => break,
                Err(e) => {
                    // Terminal: the same error comes back on every later call.
                    assert_eq!(decoder.decode(&mut buf).as_ref(), Err(&e));
                    return Outcome {
                        messages,
                        error: Some(e),
                    };
                }
            }
        }
        if rest.is_empty() {
            return Outcome {
                messages,
                error: None,
            };
        }
        let n = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
    }
}

/// What the decoder promises about each message it returns.
fn check_guarantees(m: &Message) {
    match m {
        Message::Text(p) => {
            assert!(std::str::from_utf8(p).is_ok(), "text is not UTF-8");
            assert!(p.len() <= MAX_MESSAGE);
        }
        Message::Binary(p) => assert!(p.len() <= MAX_MESSAGE),
        Message::Ping(p) | Message::Pong(p) => assert!(p.len() <= 125),
        Message::Close(Some(c)) => {
            assert!(is_valid_received_code(c.code), "close code {}", c.code);
            assert!(c.reason.len() <= 123);
        }
        Message::Close(None) => {}
    }
}
