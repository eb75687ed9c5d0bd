//! Section 4, opcodes: reserved non-control (3–7, 4.1.x) and control (11–15, 4.2.x) opcodes
//! fail the connection with 1002; a message echoed before the bad frame still comes back.

use crate::case::{Case, Event, Verdict};
use crate::client::Chop;
use crate::script::{scripted, Script};
use crate::wire::{FrameSpec, PING, TEXT};

const HELLO: &[u8] = b"Hello, world!";

pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (sub, kind, first) in [(1, "non-control", 3u8), (2, "control", 11u8)] {
        out.push(alone(format!("4.{sub}.1"), kind, first, false));
        out.push(alone(format!("4.{sub}.2"), kind, first + 1, true));
        out.push(after_echo(
            format!("4.{sub}.3"),
            kind,
            first + 2,
            false,
            Chop::Whole,
        ));
        out.push(after_echo(
            format!("4.{sub}.4"),
            kind,
            first + 3,
            true,
            Chop::Whole,
        ));
        out.push(after_echo(
            format!("4.{sub}.5"),
            kind,
            first + 4,
            true,
            Chop::Octets(1),
        ));
    }
    out
}

fn payload_words(with_payload: bool) -> &'static str {
    if with_payload {
        " and non-empty payload"
    } else {
        ""
    }
}

fn alone(id: String, kind: &str, opcode: u8, with_payload: bool) -> Case {
    scripted(
        id,
        format!(
            "Send frame with reserved {kind} Opcode = {opcode}{}.",
            payload_words(with_payload)
        ),
        "The connection is failed immediately.",
        move || {
            let payload: &[u8] = if with_payload {
                b"reserved opcode payload"
            } else {
                b""
            };
            Script::new()
                .send(FrameSpec::new(opcode, payload), Chop::Whole)
                .expect_ok(vec![])
                .server_fails(&[1002])
        },
    )
}

fn after_echo(id: String, kind: &str, opcode: u8, with_payload: bool, chop: Chop) -> Case {
    let chopped = if chop == Chop::Whole {
        ""
    } else {
        " Octets are sent in octet-wise chops."
    };
    scripted(
        id,
        format!(
            "Send small text message, then send frame with reserved {kind} Opcode = {opcode}{}, then send Ping.{chopped}",
            payload_words(with_payload)
        ),
        "Echo for first message is received, but then connection is failed immediately, since \
         reserved opcode frame is used. A Pong is not received.",
        move || {
            let payload: &[u8] = if with_payload { HELLO } else { b"" };
            Script::new()
                .send(FrameSpec::new(TEXT, HELLO), chop)
                .send(FrameSpec::new(opcode, payload), chop)
                .send(FrameSpec::new(PING, Vec::new()), chop)
                .expect_ok(vec![Event::text(HELLO)])
                .expect(Verdict::NonStrict, vec![])
                .server_fails(&[1002])
        },
    )
}
