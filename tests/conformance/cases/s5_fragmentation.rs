//! Section 5, fragmentation: control frames must not be fragmented, continuations need a
//! message to continue, a new message may not start inside one, and Pings may be interleaved
//! with fragments (and must be answered at once), however the bytes are chopped.

use std::time::Duration;

use crate::case::{Case, Event, Verdict};
use crate::client::Chop;
use crate::script::{scripted, Script};
use crate::wire::{FrameSpec, CONTINUATION, PING, PONG, TEXT};

const CLEAN: &str = "Clean close with normal code.";
const FAIL: &str = "The connection is failed immediately, since there is no message to continue.";

fn frag(opcode: u8, fin: bool, payload: &str) -> FrameSpec {
    FrameSpec::new(opcode, payload.as_bytes()).fin(fin)
}

fn chop_words(chop: Chop) -> &'static str {
    match chop {
        Chop::Whole => "sent in one chop",
        Chop::Sync => "sent in per-frame chops",
        Chop::Octets(_) => "sent in octet-wise chops",
    }
}

const CHOPS: [Chop; 3] = [Chop::Whole, Chop::Sync, Chop::Octets(1)];

pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (id, opcode, name) in [("5.1", PING, "Ping"), ("5.2", PONG, "Pong")] {
        out.push(scripted(
            id,
            format!("Send {name} fragmented into 2 fragments."),
            "Connection is failed immediately, since control message MUST NOT be fragmented.",
            move || {
                Script::new()
                    .send(frag(opcode, false, "fragment1"), Chop::Whole)
                    .send(frag(CONTINUATION, true, "fragment2"), Chop::Whole)
                    .expect_ok(vec![])
                    .server_fails(&[1002])
            },
        ));
    }
    for (i, chop) in CHOPS.into_iter().enumerate() {
        out.push(scripted(
            format!("5.{}", 3 + i),
            format!(
                "Send text Message fragmented into 2 fragments, {}.",
                chop_words(chop)
            ),
            format!("Message is processed and echoed back to us. {CLEAN}"),
            move || {
                Script::new()
                    .send(frag(TEXT, false, "fragment1"), chop)
                    .send(frag(CONTINUATION, true, "fragment2"), chop)
                    .expect_ok(vec![Event::text("fragment1fragment2")])
            },
        ));
    }
    for (i, chop) in CHOPS.into_iter().enumerate() {
        out.push(scripted(
            format!("5.{}", 6 + i),
            format!(
                "Send text Message fragmented into 2 fragments, one ping with payload in-between, {}.",
                chop_words(chop)
            ),
            format!("A pong is received, then the message is echoed back to us. {CLEAN}"),
            move || {
                Script::new()
                    .send(frag(TEXT, false, "fragment1"), chop)
                    .send(frag(PING, true, "ping payload"), chop)
                    .send(frag(CONTINUATION, true, "fragment2"), chop)
                    .expect_ok(vec![Event::pong("ping payload"), Event::text("fragment1fragment2")])
            },
        ));
    }
    for (base, fin) in [(9, true), (12, false)] {
        for (i, chop) in CHOPS.into_iter().enumerate() {
            out.push(scripted(
                format!("5.{}", base + i),
                format!(
                    "Send unfragmented Text Message after Continuation Frame with FIN = {fin}, \
                     where there is nothing to continue, {}.",
                    chop_words(chop)
                ),
                FAIL,
                move || {
                    Script::new()
                        .send(frag(CONTINUATION, fin, "non-continuation payload"), chop)
                        .send(frag(TEXT, true, "Hello, world!"), chop)
                        .expect_ok(vec![])
                        .server_fails(&[1002])
                },
            ));
        }
    }
    out.push(scripted(
        "5.15",
        "Send text Message fragmented into 2 fragments, then Continuation Frame with FIN = false \
         where there is nothing to continue, then unfragmented Text Message, all sent in one chop.",
        "The first message is echoed, then the connection is failed immediately, since there is \
         no message to continue.",
        || {
            Script::new()
                .send(frag(TEXT, false, "fragment1"), Chop::Whole)
                .send(frag(CONTINUATION, true, "fragment2"), Chop::Whole)
                .send(frag(CONTINUATION, false, "fragment3"), Chop::Whole)
                .send(frag(TEXT, true, "fragment4"), Chop::Whole)
                .expect_ok(vec![Event::text("fragment1fragment2")])
                .expect(Verdict::NonStrict, vec![])
                .server_fails(&[1002])
        },
    ));
    for (id, fin) in [("5.16", false), ("5.17", true)] {
        out.push(scripted(
            id,
            format!(
                "Repeated 2x: Continuation Frame with FIN = {fin} (where there is nothing to \
                 continue), then text Message fragmented into 2 fragments."
            ),
            FAIL,
            move || {
                let round = [
                    frag(CONTINUATION, fin, "fragment1"),
                    frag(TEXT, false, "fragment2"),
                    frag(CONTINUATION, true, "fragment3"),
                ];
                Script::new()
                    .send_all(
                        round.iter().chain(round.iter()).cloned().collect(),
                        Chop::Whole,
                    )
                    .expect_ok(vec![])
                    .server_fails(&[1002])
            },
        ));
    }
    out.push(scripted(
        "5.18",
        "Send text Message fragmented into 2 fragments, with both frame opcodes set to text, sent in one chop.",
        "The connection is failed immediately, since all data frames after the initial data \
         frame must have opcode 0.",
        || {
            Script::new()
                .send(frag(TEXT, false, "fragment1"), Chop::Whole)
                .send(frag(TEXT, true, "fragment2"), Chop::Whole)
                .expect_ok(vec![])
                .server_fails(&[1002])
        },
    ));
    for (id, chop, how) in [
        ("5.19", Chop::Whole, ""),
        (
            "5.20",
            Chop::Sync,
            " Same as 5.19, but every frame is sent in its own chop.",
        ),
    ] {
        out.push(scripted(
            id,
            format!(
                "A fragmented text message is sent in multiple frames. After sending the first 2 \
                 frames, a Ping is sent. Then we wait 1 s, then send 2 more fragments, another \
                 Ping and then the final fragment. Everything is legal.{how}"
            ),
            "The peer answers each Ping at once, before the message is complete, then echoes \
             the whole message.",
            move || {
                Script::new()
                    .send(frag(TEXT, false, "fragment1"), chop)
                    .send(frag(CONTINUATION, false, "fragment2"), chop)
                    .send(frag(PING, true, "pongme 1!"), chop)
                    .pause(Duration::from_secs(1))
                    .send(frag(CONTINUATION, false, "fragment3"), chop)
                    .send(frag(CONTINUATION, false, "fragment4"), chop)
                    .send(frag(PING, true, "pongme 2!"), chop)
                    .send(frag(CONTINUATION, true, "fragment5"), chop)
                    .expect_ok(vec![
                        Event::pong("pongme 1!"),
                        Event::pong("pongme 2!"),
                        Event::text("fragment1fragment2fragment3fragment4fragment5"),
                    ])
            },
        ));
    }
    out
}
