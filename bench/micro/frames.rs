//! WebSocket codec microbenches: encoding a server text frame, decoding a masked client frame,
//! and payload masking (the word-at-a-time `apply_mask` against a naive byte loop).
//!
//! Sizes are a small Pusher message (~100 B), 1 KiB and 64 KiB. Run with
//! `cargo bench --bench frames`. A microbench never stands in for p99 under load.

use bytes::BytesMut;
use divan::counter::BytesCount;
use divan::{black_box, Bencher};
use ringcast::proto::ws::{apply_mask, encode_frame, server_frame, Decoder, Opcode, Role};

fn main() {
    divan::main();
}

const SIZES: [usize; 3] = [100, 1024, 64 * 1024];
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A JSON-ish text payload of `len` bytes.
fn payload(len: usize) -> Vec<u8> {
    br#"{"event":"client-typing","channel":"private-chat","data":{"user":"ada","text":"hi"}}"#
        .iter()
        .copied()
        .cycle()
        .take(len)
        .collect()
}

#[divan::bench(args = SIZES)]
fn encode_server_text(bencher: Bencher, len: usize) {
    let body = payload(len);
    bencher
        .counter(BytesCount::new(len))
        .bench(|| server_frame(Opcode::Text, black_box(&body)));
}

#[divan::bench(args = SIZES)]
fn decode_masked_client_text(bencher: Bencher, len: usize) {
    let mut wire = Vec::new();
    encode_frame(&mut wire, Opcode::Text, true, &payload(len), Some(KEY));
    let mut decoder = Decoder::new(Role::Server, usize::MAX);
    bencher
        .counter(BytesCount::new(len))
        .with_inputs(|| BytesMut::from(&wire[..]))
        .bench_local_refs(|buf| decoder.decode(buf));
}

#[divan::bench(args = SIZES)]
fn mask_word_at_a_time(bencher: Bencher, len: usize) {
    let mut buf = payload(len);
    bencher
        .counter(BytesCount::new(len))
        .bench_local(|| apply_mask(black_box(&mut buf), KEY, 0));
}

/// The reference: one XOR per byte with an index into the key.
fn naive_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(offset + i) % 4];
    }
}

#[divan::bench(args = SIZES)]
fn mask_naive_bytes(bencher: Bencher, len: usize) {
    let mut buf = payload(len);
    bencher
        .counter(BytesCount::new(len))
        .bench_local(|| naive_mask(black_box(&mut buf), KEY, 0));
}
