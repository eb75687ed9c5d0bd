//! Property tests for the whole codec: encode → decode round trips and chunking independence.
//!
//! Owns the generators of arbitrary conversations (fragmented text and binary messages with
//! control frames between fragments, random masks) and the properties the shell relies on:
//! every message comes back intact, and how the bytes are split across reads never changes what
//! is decoded. Test-only; it must never be compiled into the library.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::{close_payload, encode_frame, CloseFrame, Decoder, Message, Opcode, Role, WsError};

/// A data message, how it is cut into fragments, and the controls sent between fragments.
#[derive(Debug, Clone)]
struct Spec {
    text: bool,
    payload: Vec<u8>,
    /// Fragment boundaries, as positions in `payload` (sorted; duplicates make empty fragments).
    cuts: Vec<usize>,
    /// For each gap between fragments, a control frame (ping when `true`) to send there.
    controls: Vec<Option<(bool, Vec<u8>)>>,
    mask: [u8; 4],
}

fn spec() -> impl Strategy<Value = Spec> {
    let payload = prop_oneof![
        ".{0,60}".prop_map(|s: String| (true, s.into_bytes())),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| (false, b)),
    ];
    let control = proptest::option::of((
        any::<bool>(),
        proptest::collection::vec(any::<u8>(), 0..=125),
    ));
    (
        payload,
        proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
        proptest::collection::vec(control, 4),
        any::<[u8; 4]>(),
    )
        .prop_map(|((text, payload), idx, controls, mask)| {
            let mut cuts: Vec<usize> = idx.iter().map(|i| i.index(payload.len() + 1)).collect();
            cuts.sort_unstable();
            Spec {
                text,
                payload,
                cuts,
                controls,
                mask,
            }
        })
}

/// Encodes `specs` (masked when `role` is Server, i.e. we play the client) and returns the bytes
/// and the messages a decoder must produce from them.
fn encode(specs: &[Spec], close: Option<(u16, String)>, role: Role) -> (Vec<u8>, Vec<Message>) {
    let mut out = Vec::new();
    let mut expected = Vec::new();
    for (n, s) in specs.iter().enumerate() {
        let key = |i: usize| match role {
            Role::Server => Some(s.mask.map(|b| b ^ (i as u8))),
            Role::Client => None,
        };
        let mut bounds = vec![0];
        bounds.extend(&s.cuts);
        bounds.push(s.payload.len());
        let frags = bounds.len() - 1;
        for i in 0..frags {
            let op = match (i, s.text) {
                (0, true) => Opcode::Text,
                (0, false) => Opcode::Binary,
                _ => Opcode::Continuation,
            };
            let part = &s.payload[bounds[i]..bounds[i + 1]];
            encode_frame(&mut out, op, i + 1 == frags, part, key(i + n));
            if i + 1 < frags {
                if let Some(Some((ping, body))) = s.controls.get(i) {
                    let op = if *ping { Opcode::Ping } else { Opcode::Pong };
                    encode_frame(&mut out, op, true, body, key(i + 7));
                    let b = Bytes::from(body.clone());
                    expected.push(if *ping {
                        Message::Ping(b)
                    } else {
                        Message::Pong(b)
                    });
                }
            }
        }
        let b = Bytes::from(s.payload.clone());
        expected.push(if s.text {
            Message::Text(b)
        } else {
            Message::Binary(b)
        });
    }
    if let Some((code, reason)) = close {
        let payload = close_payload(code, &reason);
        encode_frame(&mut out, Opcode::Close, true, &payload, key_for_close(role));
        let reason = String::from_utf8(payload[2..].to_vec()).unwrap_or_default();
        expected.push(Message::Close(Some(CloseFrame { code, reason })));
    }
    (out, expected)
}

fn key_for_close(role: Role) -> Option<[u8; 4]> {
    (role == Role::Server).then_some([0xA5, 0x5A, 0x0F, 0xF0])
}

/// Feeds `bytes` in the given chunks, draining the decoder after each, and returns everything
/// decoded (stopping at the first error, which is returned as the last element).
fn run(
    role: Role,
    bytes: &[u8],
    chunks: impl IntoIterator<Item = usize>,
) -> Vec<Result<Message, WsError>> {
    let mut d = Decoder::new(role, 1 << 20);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut chunks = chunks.into_iter();
    loop {
        let n = chunks.next().unwrap_or(rest.len()).min(rest.len());
        let (now, later) = rest.split_at(n);
        buf.extend_from_slice(now);
        rest = later;
        loop {
            match d.decode(&mut buf) {
                Ok(Some(m)) => out.push(Ok(m)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e));
                    return out;
                }
            }
        }
        if rest.is_empty() {
            return out;
        }
    }
}

fn close_spec() -> impl Strategy<Value = Option<(u16, String)>> {
    proptest::option::of((
        prop_oneof![Just(1000u16), Just(1001), Just(1011), 3000u16..5000],
        ".{0,70}",
    ))
}

proptest! {
    #[test]
    fn round_trip_server_role(
        specs in proptest::collection::vec(spec(), 0..5),
        close in close_spec(),
    ) {
        let (bytes, expected) = encode(&specs, close, Role::Server);
        let got: Vec<_> = run(Role::Server, &bytes, []).into_iter().map(Result::unwrap).collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn round_trip_client_role(
        specs in proptest::collection::vec(spec(), 0..5),
        close in close_spec(),
    ) {
        let (bytes, expected) = encode(&specs, close, Role::Client);
        let got: Vec<_> = run(Role::Client, &bytes, []).into_iter().map(Result::unwrap).collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn split_at_every_offset_gives_the_same_messages(
        specs in proptest::collection::vec(spec(), 1..3),
        close in close_spec(),
    ) {
        let (bytes, expected) = encode(&specs, close, Role::Server);
        for at in 0..=bytes.len() {
            let got: Vec<_> = run(Role::Server, &bytes, [at]).into_iter().map(Result::unwrap).collect();
            prop_assert_eq!(&got, &expected, "split at {}", at);
        }
    }

    #[test]
    fn random_chunkings_give_the_same_messages(
        specs in proptest::collection::vec(spec(), 1..5),
        close in close_spec(),
        chunks in proptest::collection::vec(1usize..40, 0..200),
    ) {
        let (bytes, expected) = encode(&specs, close, Role::Server);
        let got: Vec<_> = run(Role::Server, &bytes, chunks).into_iter().map(Result::unwrap).collect();
        prop_assert_eq!(got, expected);
    }

    /// Hostile input: whatever the bytes and however they are split, decoding never panics and
    /// the result (messages and the final error, if any) does not depend on the split.
    #[test]
    fn garbage_never_panics_and_is_split_independent(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
        chunks in proptest::collection::vec(1usize..20, 0..50),
    ) {
        for role in [Role::Server, Role::Client] {
            let whole = run(role, &bytes, []);
            let chunked = run(role, &bytes, chunks.clone());
            prop_assert_eq!(whole, chunked);
        }
    }
}
