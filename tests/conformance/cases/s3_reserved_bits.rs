//! Section 3, reserved bits: with no extension negotiated, any RSV bit fails the connection
//! with 1002, and nothing after the bad frame (here a Ping) may be answered.

use crate::case::{Case, Event};
use crate::client::Chop;
use crate::script::{scripted, Script};
use crate::wire::{FrameSpec, BINARY, CLOSE, PING, TEXT};

const HELLO: &[u8] = b"Hello, world!";
const FAIL_NOW: &str =
    "The connection is failed immediately (1002/protocol error), since RSV must \
                        be 0 when no extension defining RSV meaning has been negotiated.";
const ECHO_THEN_FAIL: &str = "Echo for first message is received, but then connection is failed \
                              immediately, since RSV must be 0 when no extension defining RSV \
                              meaning has been negotiated. The Pong is not received.";

pub fn cases() -> Vec<Case> {
    vec![
        single("3.1", "Send small text message with RSV = 1.", FrameSpec::new(TEXT, HELLO).rsv(1)),
        echo_then_bad("3.2", "Send small text message, then send again with RSV = 2, then send Ping.", 2, Chop::Whole),
        echo_then_bad(
            "3.3",
            "Send small text message, then send again with RSV = 3, then send Ping. Octets are sent in frame-wise chops.",
            3,
            Chop::Sync,
        ),
        echo_then_bad(
            "3.4",
            "Send small text message, then send again with RSV = 4, then send Ping. Octets are sent in octet-wise chops.",
            4,
            Chop::Octets(1),
        ),
        single(
            "3.5",
            "Send small binary message with RSV = 5.",
            FrameSpec::new(BINARY, vec![0x00, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x00, 0xFF]).rsv(5),
        ),
        single("3.6", "Send Ping with RSV = 6.", FrameSpec::new(PING, HELLO).rsv(6)),
        single("3.7", "Send Close with RSV = 7.", FrameSpec::new(CLOSE, Vec::new()).rsv(7)),
    ]
}

fn single(id: &str, description: &str, frame: FrameSpec) -> Case {
    scripted(id, description, FAIL_NOW, move || {
        Script::new()
            .send(frame.clone(), Chop::Whole)
            .expect_ok(vec![])
            .server_fails(&[1002])
    })
}

fn echo_then_bad(id: &str, description: &str, rsv: u8, chop: Chop) -> Case {
    scripted(id, description, ECHO_THEN_FAIL, move || {
        Script::new()
            .send(FrameSpec::new(TEXT, HELLO), chop)
            .send(FrameSpec::new(TEXT, HELLO).rsv(rsv), chop)
            .send(FrameSpec::new(PING, Vec::new()), chop)
            .expect_ok(vec![Event::text(HELLO)])
            .expect(crate::case::Verdict::NonStrict, vec![])
            .server_fails(&[1002])
    })
}
