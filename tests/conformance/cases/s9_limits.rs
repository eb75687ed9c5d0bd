//! Section 9, limits and performance: big messages (up to 16 MiB), big messages in many
//! fragments, big frames in small TCP chops, and 1000 small round trips. The verdict is OK when
//! every echo comes back intact within Autobahn's generous time limits; the time taken is
//! informational and printed in the report.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::case::{Case, Event, Outcome, Verdict};
use crate::client::Chop;
use crate::session::Session;
use crate::wire::{FrameSpec, BINARY, CONTINUATION, TEXT};

/// Held while a case is being timed, so that only one section 9 case is measured at a time
/// while the others connect or close (closing can take the server a second; see `script`).
static STOPWATCH: Mutex<()> = Mutex::new(());

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// How one big message goes on the wire.
#[derive(Clone, Copy)]
enum Shape {
    /// One frame, one write.
    Frame,
    /// Frames of this many payload bytes.
    Fragments(usize),
    /// One frame, written in chops of this many bytes.
    Chops(usize),
}

pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let sizes = [64 * KIB, 256 * KIB, MIB, 4 * MIB, 8 * MIB, 16 * MIB];
    let frags = [
        64,
        256,
        KIB,
        4 * KIB,
        16 * KIB,
        64 * KIB,
        256 * KIB,
        MIB,
        4 * MIB,
    ];
    let chops = [64, 128, 256, 512, 1024, 2048];
    for (sub, binary) in [(1, false), (2, true)] {
        for (i, len) in sizes.into_iter().enumerate() {
            out.push(big(
                format!("9.{sub}.{}", i + 1),
                binary,
                len,
                Shape::Frame,
                100,
            ));
        }
    }
    for (sub, binary) in [(3, false), (4, true)] {
        for (i, f) in frags.into_iter().enumerate() {
            out.push(big(
                format!("9.{sub}.{}", i + 1),
                binary,
                4 * MIB,
                Shape::Fragments(f),
                100,
            ));
        }
    }
    for (sub, binary) in [(5, false), (6, true)] {
        for (i, c) in chops.into_iter().enumerate() {
            out.push(big(
                format!("9.{sub}.{}", i + 1),
                binary,
                MIB,
                Shape::Chops(c),
                1000,
            ));
        }
    }
    let rtts = [
        (0, 60),
        (16, 60),
        (64, 60),
        (256, 120),
        (1024, 240),
        (4096, 480),
    ];
    for (sub, binary) in [(7, false), (8, true)] {
        for (i, (len, secs)) in rtts.into_iter().enumerate() {
            out.push(round_trips(
                format!("9.{sub}.{}", i + 1),
                binary,
                len,
                1000,
                secs,
            ));
        }
    }
    out
}

fn kind(binary: bool) -> &'static str {
    if binary {
        "binary"
    } else {
        "text"
    }
}

fn human(n: usize) -> String {
    match n {
        n if n >= MIB && n % MIB == 0 => format!("{}M", n / MIB),
        n if n >= KIB && n % KIB == 0 => format!("{}K", n / KIB),
        n => n.to_string(),
    }
}

fn big(id: String, binary: bool, len: usize, shape: Shape, wait_secs: u64) -> Case {
    let how = match shape {
        Shape::Frame => String::new(),
        Shape::Fragments(f) => format!(" Sent out in fragments of {}.", human(f)),
        Shape::Chops(c) => format!(" Sent out data in chops of {c} octets."),
    };
    Case::new(
        id,
        format!(
            "Send {} message with payload of length {}.{how}",
            kind(binary),
            human(len)
        ),
        format!(
            "Receive echoed {} message (with payload as sent) within {wait_secs} s.",
            kind(binary)
        ),
        Box::new(move |port| {
            let (opcode, pattern): (u8, &[u8]) = if binary {
                (BINARY, b"\xfe")
            } else {
                (TEXT, b"BAsd7&jh23")
            };
            let message = FrameSpec::repeated(opcode, pattern, len);
            let expected = if binary {
                Event::binary(message.payload.clone())
            } else {
                Event::text(message.payload.clone())
            };
            timed(port, Duration::from_secs(wait_secs), 1, move |s| {
                match shape {
                    Shape::Frame => s.send(&message, Chop::Whole),
                    Shape::Chops(c) => s.send(&message, Chop::Octets(c)),
                    Shape::Fragments(f) => {
                        // All fragments in one write, as a client library's send buffer would.
                        let mut bytes = Vec::with_capacity(len + len / f * 14 + 14);
                        let chunks: Vec<&[u8]> = message.payload.chunks(f).collect();
                        for (i, c) in chunks.iter().enumerate() {
                            let op = if i == 0 { opcode } else { CONTINUATION };
                            bytes
                                .extend(FrameSpec::new(op, *c).fin(i + 1 == chunks.len()).encode());
                        }
                        s.send_raw(&bytes, false, Chop::Whole);
                    }
                }
                expected.clone()
            })
        }),
    )
}

fn round_trips(id: String, binary: bool, len: usize, count: usize, wait_secs: u64) -> Case {
    Case::new(
        id,
        format!(
            "Send {count} {} messages of payload size {len} to measure round trip time.",
            kind(binary)
        ),
        format!(
            "Receive echoed {} messages (with payload as sent). Timeout case after {wait_secs} s.",
            kind(binary)
        ),
        Box::new(move |port| {
            let (opcode, byte) = if binary { (BINARY, 0xFE) } else { (TEXT, b'*') };
            let message = FrameSpec::new(opcode, vec![byte; len]);
            let expected = if binary {
                Event::binary(message.payload.clone())
            } else {
                Event::text(message.payload.clone())
            };
            timed(port, Duration::from_secs(wait_secs), count, move |s| {
                s.send(&message, Chop::Whole);
                expected.clone()
            })
        }),
    )
}

/// Runs `rounds` rounds of "send, then wait for the echo `send` returned", timing the whole,
/// then closes normally. OK when every echo matched within `limit`.
fn timed(
    port: u16,
    limit: Duration,
    rounds: usize,
    mut send: impl FnMut(&mut Session) -> Event,
) -> Outcome {
    let mut s = match Session::open(port) {
        Ok(s) => s,
        Err(e) => return Outcome::broken(format!("opening handshake failed: {e}")),
    };
    let stopwatch = STOPWATCH.lock().unwrap_or_else(|e| e.into_inner());
    let start = Instant::now();
    let deadline = start + limit;
    let mut failure = None;
    for round in 0..rounds {
        let want = send(&mut s);
        s.pump_until(deadline, |s| !s.events.is_empty());
        match s.events.pop() {
            Some(got) if got == want => s.events.clear(),
            Some(got) => {
                failure = Some(format!("round {round}: expected {want}, got {got}"));
                break;
            }
            None => {
                failure = Some(format!(
                    "round {round}: no echo within {} s ({})",
                    limit.as_secs(),
                    s.describe()
                ));
                break;
            }
        }
    }
    let elapsed = start.elapsed();
    drop(stopwatch);
    if s.is_open() {
        s.close(1000);
    }
    s.pump_until(Instant::now() + Duration::from_secs(2), |s| {
        s.ended.is_some()
    });
    s.kill();
    let clean = s.handshake_done() && s.received_close.flatten() == Some(1000);
    let (behavior, reason) = match failure {
        None => (
            Verdict::Ok,
            format!("all echoes received in {} ms", elapsed.as_millis()),
        ),
        Some(f) => (Verdict::Failed, f),
    };
    Outcome {
        behavior,
        close: if clean { Verdict::Ok } else { Verdict::Unclean },
        reason,
        observed: format!(
            "{} ms for {rounds} round(s); {}",
            elapsed.as_millis(),
            s.describe()
        ),
        remote_close_code: s.received_close.flatten(),
        tcp_close_delay: s.tcp_close_delay(),
        duration: elapsed,
    }
}
