//! What a conformance case is and what running one yields: the verdict vocabulary (Autobahn's),
//! the observed events a case is judged on, and the outcome the report prints.

use std::fmt;
use std::time::Duration;

/// Autobahn's verdicts. The first five judge behaviour; `WrongCode`, `Unclean` and
/// `FailedByClient` only ever judge the closing handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    Ok,
    NonStrict,
    Informational,
    /// Autobahn's verdict for a feature the implementation does not offer (e.g. compression).
    /// No case in sections 1–10 can yield it, but the report keeps the full vocabulary.
    #[allow(dead_code)]
    Unimplemented,
    Failed,
    /// The peer's close code is not one the case accepts.
    WrongCode,
    /// The case requires a clean closing handshake and did not get one.
    Unclean,
    /// The handshake completed but the server left closing TCP to us (RFC 6455 §7.1.1 says
    /// the server SHOULD close it first).
    FailedByClient,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Ok => "OK",
            Verdict::NonStrict => "NON-STRICT",
            Verdict::Informational => "INFORMATIONAL",
            Verdict::Unimplemented => "UNIMPLEMENTED",
            Verdict::Failed => "FAILED",
            Verdict::WrongCode => "WRONG CODE",
            Verdict::Unclean => "UNCLEAN",
            Verdict::FailedByClient => "FAILED BY CLIENT",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Something the client observed, in order. Cases list the sequences they accept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A complete echoed message.
    Message {
        binary: bool,
        payload: Vec<u8>,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// A named wait elapsed with the connection still open (Autobahn's `("timeout", "A")`).
    Timeout(&'static str),
}

impl Event {
    pub fn text(payload: impl Into<Vec<u8>>) -> Event {
        Event::Message {
            binary: false,
            payload: payload.into(),
        }
    }

    pub fn binary(payload: impl Into<Vec<u8>>) -> Event {
        Event::Message {
            binary: true,
            payload: payload.into(),
        }
    }

    pub fn pong(payload: impl Into<Vec<u8>>) -> Event {
        Event::Pong(payload.into())
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Message { binary, payload } => {
                let kind = if *binary { "binary" } else { "text" };
                write!(f, "{kind}({} B)", payload.len())
            }
            Event::Ping(p) => write!(f, "ping({} B)", p.len()),
            Event::Pong(p) => write!(f, "pong({} B)", p.len()),
            Event::Timeout(m) => write!(f, "timeout({m})"),
        }
    }
}

/// Formats a sequence of events for the report: `[text(13 B), pong(0 B)]`.
pub fn show_events(events: &[Event]) -> String {
    let items: Vec<String> = events.iter().map(Event::to_string).collect();
    format!("[{}]", items.join(", "))
}

/// The result of running one case.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub behavior: Verdict,
    pub close: Verdict,
    /// Why the behaviour verdict was given, in words.
    pub reason: String,
    /// What happened on the wire, summarised: events, who closed, the server's close code.
    pub observed: String,
    pub remote_close_code: Option<u16>,
    /// How long after the closing handshake the server closed TCP (`None`: no handshake, or
    /// the client had to drop it).
    pub tcp_close_delay: Option<Duration>,
    pub duration: Duration,
}

impl Outcome {
    /// The single verdict the summary counts: a failed closing handshake fails the case, and
    /// leaving the TCP close to the client only makes it non-strict.
    pub fn overall(&self) -> Verdict {
        match (self.behavior, self.close) {
            (Verdict::Failed, _) => Verdict::Failed,
            (_, Verdict::Failed | Verdict::WrongCode | Verdict::Unclean) => Verdict::Failed,
            (Verdict::Ok, Verdict::FailedByClient) => Verdict::NonStrict,
            (b, _) => b,
        }
    }

    /// An outcome for a case that could not even start (e.g. the upgrade was refused).
    pub fn broken(reason: String) -> Outcome {
        Outcome {
            behavior: Verdict::Failed,
            close: Verdict::Failed,
            reason,
            observed: String::new(),
            remote_close_code: None,
            tcp_close_delay: None,
            duration: Duration::ZERO,
        }
    }
}

/// The function that drives a case: it gets the echo server's port and returns the outcome.
pub type Driver = Box<dyn Fn(u16) -> Outcome + Send + Sync>;

/// One conformance case: Autobahn's id, what it sends, what it expects, and its driver.
pub struct Case {
    pub id: String,
    pub description: String,
    pub expectation: String,
    pub run: Driver,
}

impl Case {
    pub fn new(
        id: impl Into<String>,
        description: impl Into<String>,
        expectation: impl Into<String>,
        run: Driver,
    ) -> Case {
        Case {
            id: id.into(),
            description: description.into(),
            expectation: expectation.into(),
            run,
        }
    }

    /// The section number (`"6"` for `"6.4.1"`), for grouping in the report.
    pub fn section(&self) -> &str {
        self.id.split('.').next().unwrap_or("")
    }
}
