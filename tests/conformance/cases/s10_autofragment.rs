//! Section 10, miscellaneous: a 64 KiB text message auto-fragmented into 1300-byte frames
//! (what a client library with `autoFragmentSize = 1300` sends) must be echoed whole.

use crate::case::{Case, Event};
use crate::client::Chop;
use crate::script::{scripted, OnTimeout, Script};
use crate::wire::{FrameSpec, CONTINUATION, TEXT};
use std::time::Duration;

pub fn cases() -> Vec<Case> {
    vec![scripted(
        "10.1.1",
        "Send text message with payload of length 65536 auto-fragmented with autoFragmentSize = 1300.",
        "Receive echoed text message (with payload as sent). Clean close with normal code.",
        || {
            let payload = vec![b'*'; 65536];
            let chunks: Vec<&[u8]> = payload.chunks(1300).collect();
            // 50 full frames and one of 536 bytes, as Autobahn counts them.
            assert_eq!(chunks.len(), 51);
            let frames = chunks
                .iter()
                .enumerate()
                .map(|(i, c)| FrameSpec::new(if i == 0 { TEXT } else { CONTINUATION }, *c).fin(i + 1 == chunks.len()))
                .collect();
            Script::new()
                .send_all(frames, Chop::Whole)
                .expect_ok(vec![Event::text(payload.clone())])
                .timeout(Duration::from_secs(10), OnTimeout::Kill)
        },
    )]
}
