//! One WebSocket connection as Autobahn's client protocol sees it: it reassembles the server's
//! messages into [`Event`]s, answers Pings, takes part in the closing handshake, and records
//! who closed what and when, which is what close verdicts are made of.
//!
//! It never judges anything; `script` and the section-9 drivers compare what it recorded with
//! what a case expects.

use std::time::{Duration, Instant};

use super::case::Event;
use super::client::{Chop, Client, Incoming};
use super::wire::{self, Frame, FrameSpec};

/// The echo endpoint every case talks to.
pub const ECHO_PATH: &str = "/echo";

pub struct Session {
    client: Client,
    pub events: Vec<Event>,
    /// A fragmented message from the server still being reassembled: (binary, bytes so far).
    partial: Option<(bool, Vec<u8>)>,
    pub sent_close: bool,
    /// `Some(code)` once the server's Close arrived (`Some(None)`: it carried no code).
    pub received_close: Option<Option<u16>>,
    /// We sent Close before the server did.
    pub closed_by_me: bool,
    /// The TCP connection ended; with why (EOF, reset, our kill).
    pub ended: Option<String>,
    /// We had to drop TCP ourselves (timeout), rather than the server closing it.
    pub dropped_by_me: bool,
    /// The server broke RFC 6455 (bad frame, bad UTF-8 in a text message, bad close payload).
    pub violation: Option<String>,
    handshake_done_at: Option<Instant>,
    ended_at: Option<Instant>,
    pub started: Instant,
}

impl Session {
    /// Connects to the echo endpoint and completes the opening handshake.
    pub fn open(port: u16) -> Result<Session, String> {
        let started = Instant::now();
        let client = Client::connect(port, ECHO_PATH)?;
        Ok(Session {
            client,
            events: Vec::new(),
            partial: None,
            sent_close: false,
            received_close: None,
            closed_by_me: false,
            ended: None,
            dropped_by_me: false,
            violation: None,
            handshake_done_at: None,
            ended_at: None,
            started,
        })
    }

    /// Whether the connection is still in the OPEN state (no Close either way, TCP up).
    pub fn is_open(&self) -> bool {
        !self.sent_close && self.received_close.is_none() && self.ended.is_none()
    }

    /// Both Close frames have been exchanged.
    pub fn handshake_done(&self) -> bool {
        self.sent_close && self.received_close.is_some()
    }

    /// Sends one frame, then takes in whatever already arrived. Only a well-formed Close
    /// (FIN, no RSV) starts our side of the closing handshake; a malformed one is just bytes,
    /// as in Autobahn, where `sendFrame(opcode = 8, rsv = 7)` does not change the state.
    pub fn send(&mut self, frame: &FrameSpec, chop: Chop) {
        let is_close = frame.opcode == wire::CLOSE && frame.fin && frame.rsv == 0;
        self.send_raw(&frame.encode(), is_close, chop);
    }

    /// Sends pre-encoded bytes (a frame split by hand); `is_close` marks a Close frame.
    pub fn send_raw(&mut self, bytes: &[u8], is_close: bool, chop: Chop) {
        if is_close && !self.sent_close {
            self.sent_close = true;
            self.closed_by_me = self.received_close.is_none();
            self.note_handshake();
        }
        self.client.write(bytes, chop);
        self.drain();
    }

    /// Sends a Close with a status code and no reason.
    pub fn close(&mut self, code: u16) {
        self.send(&FrameSpec::close(Some(code), b""), Chop::Whole);
    }

    /// Takes in everything that has already arrived, without waiting.
    pub fn drain(&mut self) {
        while self.ended.is_none() {
            match self.client.next(Instant::now()) {
                Some(i) => self.handle(i),
                None => break,
            }
        }
    }

    /// Waits for one thing to arrive, until `deadline`; false when nothing came.
    pub fn pump_one(&mut self, deadline: Instant) -> bool {
        if self.ended.is_some() {
            return false;
        }
        match self.client.next(deadline) {
            Some(i) => {
                self.handle(i);
                true
            }
            None => false,
        }
    }

    /// Takes in events until `stop` holds, the connection ends or `deadline` passes.
    pub fn pump_until(&mut self, deadline: Instant, stop: impl Fn(&Session) -> bool) {
        while !stop(self) && self.ended.is_none() && Instant::now() < deadline {
            self.pump_one(deadline);
        }
    }

    /// Drops TCP from our side.
    pub fn kill(&mut self) {
        if self.ended.is_none() {
            self.client.kill();
            self.dropped_by_me = true;
            self.ended = Some("dropped by the client".into());
            self.ended_at = Some(Instant::now());
        }
    }

    /// After the closing handshake, how long the server took to close TCP.
    pub fn tcp_close_delay(&self) -> Option<Duration> {
        if self.dropped_by_me {
            return None;
        }
        Some(
            self.ended_at?
                .saturating_duration_since(self.handshake_done_at?),
        )
    }

    /// Summarises the connection for the report.
    pub fn describe(&self) -> String {
        let mut s = format!("events {}", super::case::show_events(&self.events));
        match self.received_close {
            Some(Some(code)) => s.push_str(&format!("; server close {code}")),
            Some(None) => s.push_str("; server close without code"),
            None => s.push_str("; no server close"),
        }
        if self.sent_close {
            let who = if self.closed_by_me {
                "we closed first"
            } else {
                "we replied"
            };
            s.push_str(&format!(" ({who})"));
        }
        if let Some(why) = &self.ended {
            s.push_str(&format!("; TCP: {why}"));
        }
        if let Some(d) = self.tcp_close_delay() {
            s.push_str(&format!(" {} ms after the close handshake", d.as_millis()));
        }
        if self.client.write_failed {
            s.push_str("; a write failed (server gone)");
        }
        s
    }

    fn note_handshake(&mut self) {
        if self.handshake_done() && self.handshake_done_at.is_none() {
            self.handshake_done_at = Some(Instant::now());
        }
    }

    fn handle(&mut self, incoming: Incoming) {
        match incoming {
            Incoming::Frame(f) => self.on_frame(f),
            Incoming::Ended(why) => {
                self.ended = Some(why);
                self.ended_at = Some(Instant::now());
            }
            Incoming::Violation(why) => self.fail(why),
        }
    }

    /// The server broke the protocol: remember why and drop the connection, as a client must.
    fn fail(&mut self, why: String) {
        if self.violation.is_none() {
            self.violation = Some(why);
        }
        self.kill();
    }

    fn on_frame(&mut self, f: Frame) {
        match f.opcode {
            wire::TEXT | wire::BINARY => {
                if self.partial.is_some() {
                    return self.fail("server started a message inside a fragmented one".into());
                }
                self.partial = Some((f.opcode == wire::BINARY, Vec::new()));
                self.on_data(f.fin, f.payload);
            }
            wire::CONTINUATION => {
                if self.partial.is_none() {
                    return self.fail("server sent a continuation with nothing to continue".into());
                }
                self.on_data(f.fin, f.payload);
            }
            wire::PING => {
                self.events.push(Event::Ping(f.payload.clone()));
                if !self.sent_close {
                    self.client
                        .write(&FrameSpec::new(wire::PONG, f.payload).encode(), Chop::Whole);
                }
            }
            wire::PONG => self.events.push(Event::Pong(f.payload)),
            _ => self.on_close(&f.payload),
        }
    }

    fn on_data(&mut self, fin: bool, payload: Vec<u8>) {
        let Some((binary, buf)) = self.partial.as_mut() else {
            return;
        };
        if buf.is_empty() {
            *buf = payload;
        } else {
            buf.extend_from_slice(&payload);
        }
        if !fin {
            return;
        }
        let (binary, payload) = (*binary, std::mem::take(buf));
        self.partial = None;
        if !binary && std::str::from_utf8(&payload).is_err() {
            return self.fail("server sent a text message that is not UTF-8".into());
        }
        self.events.push(Event::Message { binary, payload });
    }

    fn on_close(&mut self, payload: &[u8]) {
        if self.received_close.is_some() {
            return;
        }
        let code = match payload {
            [] => None,
            [_] => return self.fail("server close payload of 1 byte".into()),
            [hi, lo, reason @ ..] => {
                if std::str::from_utf8(reason).is_err() {
                    return self.fail("server close reason is not UTF-8".into());
                }
                Some(u16::from_be_bytes([*hi, *lo]))
            }
        };
        self.received_close = Some(code);
        if !self.sent_close {
            // Echo the status, as RFC 6455 §5.5.1 suggests and Autobahn does.
            self.sent_close = true;
            self.client
                .write(&FrameSpec::close(code, b"").encode(), Chop::Whole);
        }
        self.note_handshake();
    }
}
