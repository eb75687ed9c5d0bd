//! Section 2, pings and pongs: a Ping must be answered by a Pong with the same payload, a Ping
//! over 125 bytes fails the connection, and unsolicited Pongs are ignored.

use crate::case::{Case, Event};
use crate::client::Chop;
use crate::script::{scripted, Script};
use crate::wire::{FrameSpec, PING, PONG};

const CLEAN: &str = "Clean close with normal code.";

pub fn cases() -> Vec<Case> {
    let mut out = vec![
        ping_case("2.1", "Send ping without payload.", Vec::new(), Chop::Whole),
        ping_case(
            "2.2",
            "Send ping with small text payload.",
            b"Hello, world!".to_vec(),
            Chop::Whole,
        ),
        ping_case(
            "2.3",
            "Send ping with small binary (non UTF-8) payload.",
            vec![0x00, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x00, 0xFF],
            Chop::Whole,
        ),
        ping_case(
            "2.4",
            "Send ping with binary payload of 125 octets.",
            vec![0xFE; 125],
            Chop::Whole,
        ),
        scripted(
            "2.5",
            "Send ping with binary payload of 126 octets.",
            "Connection is failed immediately (1002/Protocol Error), since control frames are \
             only allowed to have payload up to and including 125 octets.",
            || {
                Script::new()
                    .send(FrameSpec::new(PING, vec![0xFE; 126]), Chop::Whole)
                    .expect_ok(vec![])
                    .server_fails(&[1002])
            },
        ),
        ping_case(
            "2.6",
            "Send ping with binary payload of 125 octets, send in octet-wise chops.",
            vec![0xFE; 125],
            Chop::Octets(1),
        ),
    ];
    for (id, payload) in [("2.7", &b""[..]), ("2.8", &b"unsolicited pong payload"[..])] {
        let what = if payload.is_empty() {
            "without"
        } else {
            "with"
        };
        out.push(scripted(
            id,
            format!("Send unsolicited pong {what} payload. Verify nothing is received. {CLEAN}"),
            "Nothing.",
            move || {
                Script::new()
                    .send(FrameSpec::new(PONG, payload), Chop::Whole)
                    .send(FrameSpec::close(Some(1000), b""), Chop::Whole)
                    .expect_ok(vec![])
            },
        ));
    }
    out.push(scripted(
        "2.9",
        "Send unsolicited pong with payload. Send ping with payload. Verify pong for ping is received.",
        format!("Nothing in reply to own Pong, but Pong with payload echoed in reply to Ping. {CLEAN}"),
        || {
            Script::new()
                .send(FrameSpec::new(PONG, &b"unsolicited pong payload"[..]), Chop::Whole)
                .send(FrameSpec::new(PING, &b"ping payload"[..]), Chop::Whole)
                .expect_ok(vec![Event::pong(&b"ping payload"[..])])
        },
    ));
    for (id, chop, how) in [
        ("2.10", Chop::Whole, ""),
        (
            "2.11",
            Chop::Octets(1),
            " Send out octets in octet-wise chops.",
        ),
    ] {
        out.push(scripted(
            id,
            format!("Send 10 Pings with payload.{how}"),
            format!("Pongs for our Pings with all the payloads. Note: not required by the spec, but checked anyway. {CLEAN}"),
            move || {
                let payloads: Vec<Vec<u8>> = (0..10).map(|i| format!("payload-{i}").into_bytes()).collect();
                Script::new()
                    .send_all(payloads.iter().map(|p| FrameSpec::new(PING, p.clone())).collect(), chop)
                    .expect_ok(payloads.into_iter().map(Event::pong).collect())
                    .timeout(std::time::Duration::from_secs(3), crate::script::OnTimeout::Close)
            },
        ));
    }
    out
}

fn ping_case(id: &str, description: &str, payload: Vec<u8>, chop: Chop) -> Case {
    scripted(
        id,
        description,
        format!("Pong with payload echoed is sent in reply to Ping. {CLEAN}"),
        move || {
            Script::new()
                .send(FrameSpec::new(PING, payload.clone()), chop)
                .expect_ok(vec![Event::pong(payload.clone())])
        },
    )
}
