//! Section 1, framing: text (1.1.x) and binary (1.2.x) messages at every payload-length
//! encoding boundary (7-bit, 16-bit, 64-bit), echoed unchanged.

use crate::case::{Case, Event};
use crate::client::Chop;
use crate::script::{scripted, OnTimeout, Script};
use crate::wire::{FrameSpec, BINARY, TEXT};
use std::time::Duration;

/// The lengths of cases x.1 .. x.7; x.8 is 65536 again, written in 997-byte chops.
const LENGTHS: [usize; 7] = [0, 125, 126, 127, 128, 65535, 65536];

pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (sub, opcode, kind, byte) in [(1, TEXT, "text", b'*'), (2, BINARY, "binary", 0xFE)] {
        for (i, len) in LENGTHS.iter().copied().enumerate() {
            out.push(echo_case(
                format!("1.{sub}.{}", i + 1),
                opcode,
                kind,
                byte,
                len,
                Chop::Whole,
            ));
        }
        out.push(echo_case(
            format!("1.{sub}.8"),
            opcode,
            kind,
            byte,
            65536,
            Chop::Octets(997),
        ));
    }
    out
}

fn echo_case(id: String, opcode: u8, kind: &str, byte: u8, len: usize, chop: Chop) -> Case {
    let chopped = match chop {
        Chop::Octets(n) => format!(" Sent out data in chops of {n} octets."),
        _ => String::new(),
    };
    let binary = opcode == BINARY;
    scripted(
        id,
        format!("Send {kind} message with payload of length {len}.{chopped}"),
        format!(
            "Receive echoed {kind} message (with payload as sent). Clean close with normal code."
        ),
        move || {
            let payload = vec![byte; len];
            let event = if binary {
                Event::binary(payload.clone())
            } else {
                Event::text(payload.clone())
            };
            Script::new()
                .send(FrameSpec::new(opcode, payload), chop)
                .expect_ok(vec![event])
                .timeout(Duration::from_secs(10), OnTimeout::Kill)
        },
    )
}
