//! Scripted cases: a list of sends and waits, the event sequences accepted for each verdict,
//! and the expected closing behaviour, run the way Autobahn's fuzzing client runs a case.
//!
//! Autobahn waits fixed times (`killAfter(1)`, `closeAfter(1)`) before judging. Here the same
//! decisions are taken as soon as they are determined: the client closes the moment the events
//! match an expectation, and a case that expects the server to fail the connection ends when
//! it does. The fixed times remain as upper bounds, so a slow or silent server is still judged
//! exactly as Autobahn would judge it, while a conformant one is judged in milliseconds.

use std::time::{Duration, Instant};

use super::case::{Case, Event, Outcome, Verdict};
use super::client::Chop;
use super::session::Session;
use super::wire::FrameSpec;

/// How long the server gets to close TCP after the closing handshake before the client does it
/// (Autobahn: 1 s; ringcast's echo shell waits up to 1 s for its peer first, so 2 s).
const SERVER_DROP_GRACE: Duration = Duration::from_secs(2);

enum Step {
    Send(FrameSpec, Chop),
    Raw(Vec<u8>, Chop),
    Pause(Duration),
    /// Wait; if the connection is still open afterwards, record `Event::Timeout(marker)`.
    Checkpoint(&'static str, Duration),
}

/// What happens when the case's time runs out: Autobahn's `closeAfter` or `killAfter`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OnTimeout {
    Close,
    Kill,
}

/// The closing behaviour a case accepts (Autobahn's `expectedClose`).
struct CloseExpect {
    by_me: bool,
    codes: Vec<u16>,
    require_clean: bool,
}

pub struct Script {
    steps: Vec<Step>,
    outcomes: Vec<(Verdict, Vec<Event>)>,
    close: CloseExpect,
    timeout: Duration,
    on_timeout: OnTimeout,
    suppress_close: bool,
    wrong_endpoint_fatal: bool,
    wrong_code_fails: bool,
    informational: bool,
}

impl Script {
    /// A script that expects a clean close initiated by us with 1000 (the "echo" shape).
    pub fn new() -> Script {
        Script {
            steps: Vec::new(),
            outcomes: Vec::new(),
            close: CloseExpect {
                by_me: true,
                codes: vec![1000],
                require_clean: true,
            },
            timeout: Duration::from_secs(1),
            on_timeout: OnTimeout::Close,
            suppress_close: false,
            wrong_endpoint_fatal: false,
            wrong_code_fails: false,
            informational: false,
        }
    }

    pub fn send(mut self, frame: FrameSpec, chop: Chop) -> Script {
        self.steps.push(Step::Send(frame, chop));
        self
    }

    /// Sends each frame with the same chopping.
    pub fn send_all(mut self, frames: Vec<FrameSpec>, chop: Chop) -> Script {
        self.steps
            .extend(frames.into_iter().map(|f| Step::Send(f, chop)));
        self
    }

    /// Sends bytes that are not a whole frame (a frame split by hand).
    pub fn raw(mut self, bytes: Vec<u8>, chop: Chop) -> Script {
        self.steps.push(Step::Raw(bytes, chop));
        self
    }

    pub fn pause(mut self, d: Duration) -> Script {
        self.steps.push(Step::Pause(d));
        self
    }

    pub fn checkpoint(mut self, marker: &'static str, d: Duration) -> Script {
        self.steps.push(Step::Checkpoint(marker, d));
        self
    }

    /// Accepts `events` with verdict `v`; earlier calls take precedence.
    pub fn expect(mut self, v: Verdict, events: Vec<Event>) -> Script {
        self.outcomes.push((v, events));
        self
    }

    pub fn expect_ok(self, events: Vec<Event>) -> Script {
        self.expect(Verdict::Ok, events)
    }

    /// The server must fail the connection, with one of `codes` if it sends a Close.
    pub fn server_fails(mut self, codes: &[u16]) -> Script {
        self.close = CloseExpect {
            by_me: false,
            codes: codes.to_vec(),
            require_clean: false,
        };
        self.on_timeout = OnTimeout::Kill;
        self
    }

    /// We close (or already closed in the script); the server answers with one of `codes`.
    pub fn client_closes(mut self, codes: &[u16], require_clean: bool) -> Script {
        self.close = CloseExpect {
            by_me: true,
            codes: codes.to_vec(),
            require_clean,
        };
        self
    }

    pub fn timeout(mut self, d: Duration, on_timeout: OnTimeout) -> Script {
        self.timeout = d;
        self.on_timeout = on_timeout;
        self
    }

    /// The script sends its own Close; do not close again when the events match.
    pub fn suppress_close(mut self) -> Script {
        self.suppress_close = true;
        self
    }

    /// Closing by the wrong endpoint fails the behaviour too (the 6.x UTF-8 cases).
    pub fn wrong_endpoint_fatal(mut self) -> Script {
        self.wrong_endpoint_fatal = true;
        self
    }

    /// A wrong close code fails the behaviour too (the 7.x close cases).
    pub fn wrong_code_fails(mut self) -> Script {
        self.wrong_code_fails = true;
        self
    }

    /// The spec leaves the outcome open: report what happened, verdict INFORMATIONAL.
    pub fn informational(mut self) -> Script {
        self.informational = true;
        self
    }

    fn matches(&self, events: &[Event]) -> Option<Verdict> {
        self.outcomes
            .iter()
            .find(|(_, e)| e == events)
            .map(|(v, _)| *v)
    }

    /// Runs the script against the echo server on `port` and judges it.
    pub fn run(&self, port: u16) -> Outcome {
        let mut s = match Session::open(port) {
            Ok(s) => s,
            Err(e) => return Outcome::broken(format!("opening handshake failed: {e}")),
        };
        self.play(&mut s);
        self.finish(&mut s);
        self.judge(&s)
    }

    fn play(&self, s: &mut Session) {
        for step in &self.steps {
            if s.ended.is_some() {
                break;
            }
            match step {
                Step::Send(frame, chop) => s.send(frame, *chop),
                Step::Raw(bytes, chop) => s.send_raw(bytes, false, *chop),
                Step::Pause(d) => s.pump_until(Instant::now() + *d, |_| false),
                Step::Checkpoint(marker, d) => {
                    s.pump_until(Instant::now() + *d, |s| !s.is_open());
                    if !s.is_open() {
                        break;
                    }
                    s.events.push(Event::Timeout(marker));
                }
            }
        }
    }

    /// Waits for the case to settle: closes when the events match (if we are to close), lets
    /// the server fail the connection, and applies the timeout as Autobahn would.
    fn finish(&self, s: &mut Session) {
        let mut deadline = Instant::now() + self.timeout;
        let mut grace_from: Option<Instant> = None;
        while s.ended.is_none() {
            if self.close.by_me
                && !self.suppress_close
                && !s.sent_close
                && self.matches(&s.events).is_some()
            {
                s.close(1000);
            }
            if s.handshake_done() {
                let from = *grace_from.get_or_insert_with(Instant::now);
                deadline = from + SERVER_DROP_GRACE;
            }
            if Instant::now() >= deadline {
                if self.on_timeout == OnTimeout::Close && !s.sent_close {
                    s.close(1000);
                    deadline = Instant::now() + SERVER_DROP_GRACE;
                    continue;
                }
                s.kill();
                break;
            }
            s.pump_one(deadline);
        }
    }

    fn judge(&self, s: &Session) -> Outcome {
        let duration = s.started.elapsed();
        let remote_code = s.received_close.flatten();
        let (mut behavior, mut reason) = match self.matches(&s.events) {
            Some(v) => (v, "actual events match an expected sequence".to_owned()),
            None => (
                Verdict::Failed,
                format!(
                    "events differ from every expected sequence {}",
                    self.show_expected()
                ),
            ),
        };
        if let Some(v) = &s.violation {
            behavior = Verdict::Failed;
            reason = format!("server protocol violation: {v}");
        }
        let server_silent = !self.close.by_me && s.received_close.is_none() && s.dropped_by_me;
        let wrong_endpoint = s.closed_by_me != self.close.by_me;
        let close = if server_silent {
            reason = "the server did not fail the connection".into();
            Verdict::Failed
        } else if wrong_endpoint {
            Verdict::Failed
        } else if self.close.require_clean && !s.handshake_done() {
            Verdict::Unclean
        } else if remote_code.is_some_and(|c| !self.close.codes.contains(&c)) {
            Verdict::WrongCode
        } else if s.dropped_by_me {
            Verdict::FailedByClient
        } else {
            Verdict::Ok
        };
        if wrong_endpoint && self.wrong_endpoint_fatal {
            behavior = Verdict::Failed;
            reason = "the connection was closed by the wrong endpoint".into();
        }
        if self.wrong_code_fails && close == Verdict::WrongCode {
            behavior = Verdict::Failed;
            reason = format!(
                "close code {remote_code:?}, expected one of {:?}",
                self.close.codes
            );
        }
        let mut close = close;
        if self.informational {
            reason = match behavior {
                Verdict::Ok => "the expected events arrived before the close".into(),
                Verdict::NonStrict => "the close was processed before the events".into(),
                _ => "actual events are undefined by the spec".into(),
            };
            behavior = Verdict::Informational;
            close = Verdict::Informational;
        }
        Outcome {
            behavior,
            close,
            reason,
            observed: s.describe(),
            remote_close_code: remote_code,
            tcp_close_delay: s.tcp_close_delay(),
            duration,
        }
    }

    fn show_expected(&self) -> String {
        let alts: Vec<String> = self
            .outcomes
            .iter()
            .map(|(v, e)| format!("{v}: {}", super::case::show_events(e)))
            .collect();
        alts.join(" | ")
    }
}

/// A case whose driver builds `make()`'s script afresh on each run (new masking keys).
pub fn scripted(
    id: impl Into<String>,
    description: impl Into<String>,
    expectation: impl Into<String>,
    make: impl Fn() -> Script + Send + Sync + 'static,
) -> Case {
    Case::new(
        id,
        description,
        expectation,
        Box::new(move |port| make().run(port)),
    )
}
