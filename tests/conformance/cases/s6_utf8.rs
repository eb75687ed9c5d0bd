//! Section 6, UTF-8 handling: text messages must be valid UTF-8 however they are fragmented,
//! invalid text fails the connection with 1007, and the fail-fast cases (6.4.x) check that the
//! failure comes as soon as the invalid byte arrives (OK) rather than only at the end of the
//! message (NON-STRICT).

use std::time::Duration;

use crate::case::{Case, Event, Verdict};
use crate::client::Chop;
use crate::script::{scripted, OnTimeout, Script};
use crate::wire::{FrameSpec, CONTINUATION, TEXT};

use super::utf8_vectors::{groups, KOSME};

const HELLO_UTF8: &str = "Hello-\u{b5}@\u{df}\u{f6}\u{e4}\u{fc}\u{e0}\u{e1}-UTF-8!!";
const ECHOED: &str = "The message is echoed back to us.";
const FAIL_NOW: &str =
    "The connection is failed immediately, since the payload is not valid UTF-8.";

/// κόσμε, a lone high surrogate (invalid), then "edited": cases 6.3.x.
fn invalid_kosme() -> Vec<u8> {
    [KOSME, b"\xed\xa0\x80", b"edited"].concat()
}

/// κόσμε, U+110000 in the UTF-8 scheme (invalid at its second byte, offset 12), "edited".
fn out_of_range_kosme() -> Vec<u8> {
    [KOSME, b"\xf4\x90\x80\x80", b"edited"].concat()
}

/// One message as frames of at most `size` payload bytes (Autobahn's `fragmentSize`).
fn fragments(payload: &[u8], size: usize) -> Vec<FrameSpec> {
    let chunks: Vec<&[u8]> = if payload.is_empty() {
        vec![&[][..]]
    } else {
        payload.chunks(size).collect()
    };
    let last = chunks.len() - 1;
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, c)| FrameSpec::new(if i == 0 { TEXT } else { CONTINUATION }, c).fin(i == last))
        .collect()
}

fn echo(
    id: &str,
    description: &str,
    expected: &'static [u8],
    frames: fn() -> Vec<FrameSpec>,
) -> Case {
    scripted(id, description, ECHOED, move || {
        Script::new()
            .send_all(frames(), Chop::Whole)
            .expect_ok(vec![Event::text(expected)])
    })
}

fn fail(
    id: String,
    description: String,
    frames: impl Fn() -> Vec<FrameSpec> + Send + Sync + 'static,
) -> Case {
    scripted(id, description, FAIL_NOW, move || {
        Script::new()
            .send_all(frames(), Chop::Whole)
            .expect_ok(vec![])
            .server_fails(&[1007])
            .wrong_endpoint_fatal()
    })
}

pub fn cases() -> Vec<Case> {
    let mut out = vec![
        echo("6.1.1", "Send text message of length 0.", b"", || vec![FrameSpec::new(TEXT, Vec::new())]),
        echo("6.1.2", "Send fragmented text message, 3 fragments each of length 0.", b"", || {
            vec![
                FrameSpec::new(TEXT, Vec::new()).fin(false),
                FrameSpec::new(CONTINUATION, Vec::new()).fin(false),
                FrameSpec::new(CONTINUATION, Vec::new()),
            ]
        }),
        echo(
            "6.1.3",
            "Send fragmented text message, 3 fragments, first and last of length 0, middle non-empty.",
            b"middle frame payload",
            || {
                vec![
                    FrameSpec::new(TEXT, Vec::new()).fin(false),
                    FrameSpec::new(CONTINUATION, &b"middle frame payload"[..]).fin(false),
                    FrameSpec::new(CONTINUATION, Vec::new()),
                ]
            },
        ),
        echo("6.2.1", "Send a valid UTF-8 text message in one fragment.", HELLO_UTF8.as_bytes(), || {
            vec![FrameSpec::new(TEXT, HELLO_UTF8.as_bytes())]
        }),
        echo(
            "6.2.2",
            "Send a valid UTF-8 text message in two fragments, fragmented on UTF-8 code point boundary.",
            HELLO_UTF8.as_bytes(),
            || {
                let (a, b) = HELLO_UTF8.split_at(HELLO_UTF8.find('\u{fc}').unwrap_or(0));
                vec![FrameSpec::new(TEXT, a.as_bytes()).fin(false), FrameSpec::new(CONTINUATION, b.as_bytes())]
            },
        ),
        echo(
            "6.2.3",
            "Send a valid UTF-8 text message in fragments of 1 octet, resulting in frames ending on \
             positions which are not code point ends.",
            HELLO_UTF8.as_bytes(),
            || fragments(HELLO_UTF8.as_bytes(), 1),
        ),
        echo(
            "6.2.4",
            "Send a valid UTF-8 text message (κόσμε) in fragments of 1 octet, resulting in frames \
             ending on positions which are not code point ends.",
            KOSME,
            || fragments(KOSME, 1),
        ),
        fail("6.3.1".into(), "Send invalid UTF-8 text message unfragmented.".into(), || {
            vec![FrameSpec::new(TEXT, invalid_kosme())]
        }),
        fail(
            "6.3.2".into(),
            "Send invalid UTF-8 text message in fragments of 1 octet.".into(),
            || fragments(&invalid_kosme(), 1),
        ),
    ];
    out.extend(fail_fast_cases());
    for (g, (title, vectors)) in groups().into_iter().enumerate() {
        for (i, (valid, bytes)) in vectors.into_iter().enumerate() {
            let id = format!("6.{}.{}", g + 5, i + 1);
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            if valid {
                out.push(scripted(
                    id,
                    format!("{title}: send a text message with payload which is valid UTF-8 in one fragment. Payload: 0x{hex}"),
                    ECHOED,
                    move || {
                        Script::new()
                            .send(FrameSpec::new(TEXT, bytes.clone()), Chop::Whole)
                            .expect_ok(vec![Event::text(bytes.clone())])
                            .timeout(Duration::from_millis(500), OnTimeout::Kill)
                    },
                ));
            } else {
                out.push(fail(
                    id,
                    format!("{title}: send a text message with payload which is not valid UTF-8 in one fragment. Payload: 0x{hex}"),
                    move || vec![FrameSpec::new(TEXT, bytes.clone())],
                ));
            }
        }
    }
    out
}

/// 6.4.1–6.4.4: the invalid part arrives after a pause, as a new frame (6.4.1/2) or as more
/// bytes of the same frame (6.4.3/4), cut after the invalid code point (6.4.1/3) or right
/// after the first invalid byte (6.4.2/4).
fn fail_fast_cases() -> Vec<Case> {
    const EXPECT: &str = "The first part is accepted (we time out waiting). The second part is \
                          rejected immediately (fail fast on UTF-8): OK. If only the complete \
                          message is rejected: NON-STRICT.";
    let mut out = Vec::new();
    for (n, split, as_frames) in [
        (1, [11, 15], true),
        (2, [12, 13], true),
        (3, [11, 15], false),
        (4, [12, 13], false),
    ] {
        let how = if as_frames {
            "3 frames"
        } else {
            "3 chops of one frame"
        };
        let cut = if split[0] == 11 {
            "the whole invalid code point"
        } else {
            "only the first invalid octet"
        };
        out.push(scripted(
            format!("6.4.{n}"),
            format!(
                "Send invalid UTF-8 text message (κόσμε, U+110000, \"edited\") in {how} with 1 s \
                 pauses; the 2nd part carries {cut}."
            ),
            EXPECT,
            move || {
                let p = out_of_range_kosme();
                let parts = [&p[..split[0]], &p[split[0]..split[1]], &p[split[1]..]];
                let wait = Duration::from_secs(1);
                let script = if as_frames {
                    Script::new()
                        .send(FrameSpec::new(TEXT, parts[0]).fin(false), Chop::Whole)
                        .checkpoint("A", wait)
                        .send(
                            FrameSpec::new(CONTINUATION, parts[1]).fin(false),
                            Chop::Whole,
                        )
                        .checkpoint("B", wait)
                        .send(FrameSpec::new(CONTINUATION, parts[2]), Chop::Whole)
                } else {
                    // One frame, its bytes cut where the payload parts end.
                    let bytes = FrameSpec::new(TEXT, p.clone()).encode();
                    let header = bytes.len() - p.len();
                    let (a, b) = (header + split[0], header + split[1]);
                    Script::new()
                        .raw(bytes[..a].to_vec(), Chop::Whole)
                        .checkpoint("A", wait)
                        .raw(bytes[a..b].to_vec(), Chop::Whole)
                        .checkpoint("B", wait)
                        .raw(bytes[b..].to_vec(), Chop::Whole)
                };
                script
                    .expect_ok(vec![Event::Timeout("A")])
                    .expect(
                        Verdict::NonStrict,
                        vec![Event::Timeout("A"), Event::Timeout("B")],
                    )
                    .server_fails(&[1007])
                    .wrong_endpoint_fatal()
            },
        ));
    }
    out
}
