//! Section 7, the closing handshake: what may follow a Close (nothing is processed), close
//! payload rules (0 or ≥ 2 bytes, ≤ 125, UTF-8 reason), and which status codes a peer may
//! send (7.7.x valid, 7.9.x invalid → 1002, 7.13.x out of range: undefined, informational).

use std::time::Duration;

use crate::case::{Case, Event, Verdict};
use crate::client::Chop;
use crate::script::{scripted, OnTimeout, Script};
use crate::wire::{FrameSpec, CLOSE, CONTINUATION, PING, TEXT};

const HELLO: &[u8] = b"Hello World!";
const CLEAN: &str = "Clean close with normal code.";

fn close(code: u16) -> FrameSpec {
    FrameSpec::close(Some(code), b"")
}

/// A script for the 7.x shape: our own Close in the script, 1 s to settle, and a wrong close
/// code fails the behaviour as well.
fn close_script() -> Script {
    Script::new()
        .suppress_close()
        .wrong_code_fails()
        .timeout(Duration::from_secs(1), OnTimeout::Kill)
}

pub fn cases() -> Vec<Case> {
    let mut out = vec![
        scripted(
            "7.1.1",
            "Send a message followed by a close frame.",
            format!("Echoed message followed by a clean close. {CLEAN}"),
            || {
                Script::new()
                    .wrong_code_fails()
                    .send(FrameSpec::new(TEXT, HELLO), Chop::Whole)
                    .expect_ok(vec![Event::text(HELLO)])
                    .timeout(Duration::from_secs(1), OnTimeout::Kill)
            },
        ),
        scripted(
            "7.1.2",
            "Send two close frames.",
            format!("{CLEAN} Second close frame ignored."),
            || {
                close_script()
                    .send(close(1000), Chop::Whole)
                    .send(FrameSpec::new(CLOSE, Vec::new()), Chop::Whole)
                    .expect_ok(vec![])
            },
        ),
        scripted(
            "7.1.3",
            "Send a ping after close message.",
            format!("{CLEAN} No pong."),
            || {
                close_script()
                    .send(close(1000), Chop::Whole)
                    .send(FrameSpec::new(PING, Vec::new()), Chop::Whole)
                    .expect_ok(vec![])
            },
        ),
        scripted(
            "7.1.4",
            "Send text message after sending a close frame.",
            format!("{CLEAN} Text message ignored."),
            || {
                close_script()
                    .send(close(1000), Chop::Whole)
                    .send(FrameSpec::new(TEXT, HELLO), Chop::Whole)
                    .expect_ok(vec![])
            },
        ),
        scripted(
            "7.1.5",
            "Send message fragment1 followed by close then fragment.",
            CLEAN,
            || {
                close_script()
                    .send(
                        FrameSpec::new(TEXT, &b"fragment1"[..]).fin(false),
                        Chop::Whole,
                    )
                    .send(close(1000), Chop::Whole)
                    .send(FrameSpec::new(CONTINUATION, &b"fragment2"[..]), Chop::Whole)
                    .expect_ok(vec![])
            },
        ),
        scripted(
            "7.1.6",
            "Send 256K message followed by close then a ping.",
            "Case outcome depends on implementation defined close behaviour: message and close \
             are sent back to back; the close may be processed before the echo is written.",
            || {
                let big = FrameSpec::repeated(TEXT, b"BAsd7&jh23", 256 * 1024);
                let echoed = Event::text(big.payload.clone());
                Script::new()
                    .suppress_close()
                    .informational()
                    .send(big, Chop::Whole)
                    .send(FrameSpec::new(TEXT, HELLO), Chop::Whole)
                    .send(close(1000), Chop::Whole)
                    .send(FrameSpec::new(PING, Vec::new()), Chop::Whole)
                    .expect_ok(vec![echoed, Event::text(HELLO)])
                    .expect(Verdict::NonStrict, vec![])
                    .timeout(Duration::from_secs(2), OnTimeout::Kill)
            },
        ),
        payload_case(
            "7.3.1",
            "Send a close frame with payload length 0 (no close code, no close reason).",
            CLEAN,
            FrameSpec::new(CLOSE, Vec::new()),
            &[1000],
            true,
        ),
        payload_case(
            "7.3.2",
            "Send a close frame with payload length 1.",
            "Clean close with protocol error or drop TCP.",
            FrameSpec::new(CLOSE, &b"a"[..]),
            &[1002],
            false,
        ),
        payload_case(
            "7.3.3",
            "Send a close frame with payload length 2 (regular close with a code).",
            CLEAN,
            close(1000),
            &[1000],
            true,
        ),
        payload_case(
            "7.3.4",
            "Send a close frame with close code and close reason.",
            CLEAN,
            FrameSpec::close(Some(1000), b"Hello World!"),
            &[1000],
            true,
        ),
        payload_case(
            "7.3.5",
            "Send a close frame with close code and close reason of maximum length (123).",
            CLEAN,
            FrameSpec::close(Some(1000), &[b'*'; 123]),
            &[1000],
            true,
        ),
        payload_case(
            "7.3.6",
            "Send a close frame with payload length 126.",
            "Clean close with protocol error code or dropped TCP connection.",
            FrameSpec::close(Some(1000), &[b'*'; 124]),
            &[1002],
            false,
        ),
        payload_case(
            "7.5.1",
            "Send a close frame with invalid UTF-8 payload.",
            "Clean close with protocol error or invalid utf8 code or dropped TCP.",
            FrameSpec::close(
                Some(1000),
                b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64",
            ),
            &[1002, 1007],
            false,
        ),
    ];
    for (i, code) in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
    ]
    .into_iter()
    .enumerate()
    {
        out.push(payload_case(
            &format!("7.7.{}", i + 1),
            &format!("Send close with valid close code {code}."),
            "Clean close with normal or echoed code.",
            close(code),
            &[1000, code],
            true,
        ));
    }
    for (i, code) in [0u16, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999]
        .into_iter()
        .enumerate()
    {
        out.push(payload_case(
            &format!("7.9.{}", i + 1),
            &format!("Send close with invalid close code {code}."),
            "Clean close with protocol error code or drop TCP.",
            close(code),
            &[1002],
            false,
        ));
    }
    for (i, code) in [5000u16, 65535].into_iter().enumerate() {
        out.push(scripted(
            format!("7.13.{}", i + 1),
            format!("Send close with close code {code}."),
            "Actual events are undefined by the spec.",
            move || {
                close_script()
                    .informational()
                    .send(close(code), Chop::Whole)
                    .expect_ok(vec![])
            },
        ));
    }
    out
}

/// We send `frame` (a Close) and expect a close with one of `codes` (or, when not
/// `require_clean`, a dropped connection).
fn payload_case(
    id: &str,
    description: &str,
    expectation: &str,
    frame: FrameSpec,
    codes: &[u16],
    require_clean: bool,
) -> Case {
    let codes = codes.to_vec();
    scripted(id, description, expectation, move || {
        close_script()
            .send(frame.clone(), Chop::Whole)
            .expect_ok(vec![])
            .client_closes(&codes, require_clean)
    })
}
