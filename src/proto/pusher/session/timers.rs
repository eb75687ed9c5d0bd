//! Time-driven rules: the idle ping and its pong deadline, the sign-in deadline, and the
//! per-connection message rate.
//!
//! The shell calls [`Session::tick`] periodically (once a second), [`Session::seen`] whenever
//! bytes arrive and [`Session::admit_message`] for every WebSocket message before handling it.

use super::super::error::PusherError;
use super::super::frame::text_frame;
use super::super::ping;
use super::time::secs;
use super::{Effect, Millis, Session};

impl Session {
    /// The client sent something: the idle clock restarts and an outstanding ping is answered.
    pub fn seen(&mut self, now: Millis) {
        self.last_seen = now;
        self.ping_sent = None;
    }

    /// Counts one WebSocket message against the per-second budget. False when it must be
    /// dropped; the first excess message of a second is also answered with 4301.
    pub fn admit_message(&mut self, now: Millis, out: &mut Vec<Effect>) -> bool {
        let limit = self.rules.max_messages_per_second;
        let count = self.messages.hit(now);
        if count <= limit {
            return true;
        }
        if count == limit.saturating_add(1) {
            out.push(Effect::Error(PusherError::MessageRateExceeded { limit }));
        }
        false
    }

    /// [`Input::Tick`](super::Input::Tick): the sign-in deadline first, then the pong deadline, then a ping for a
    /// connection silent for `ping_interval`.
    pub(super) fn tick(&mut self, now: Millis, out: &mut Vec<Effect>) {
        let rules = &self.rules;
        if let Some(limit) = rules.signin_timeout {
            if self.user.is_none() && now.since(self.opened) >= secs(limit) {
                return out.push(Effect::Close(PusherError::SigninTimeout));
            }
        }
        match self.ping_sent {
            Some(sent) if now.since(sent) >= secs(rules.activity_timeout) => {
                out.push(Effect::Close(PusherError::PongNotReceived))
            }
            Some(_) => {}
            None if now.since(self.last_seen) >= secs(rules.ping_interval) => {
                out.push(Effect::Send(text_frame(ping())));
                self.ping_sent = Some(now);
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::super::{Input, Rules};
    use super::*;

    fn tick(s: &mut Session, now: u64) -> Vec<Effect> {
        feed(s, Input::Tick, now)
    }

    /// A session pinged after 10 s of silence and closed 5 s after an unanswered ping.
    fn pinging() -> Session {
        let rules = Rules {
            ping_interval: 10,
            activity_timeout: 5,
            ..rules()
        };
        session_as(rules, None)
    }

    #[test]
    fn silence_earns_a_ping_then_a_close_with_4201() {
        let mut s = pinging();
        assert!(tick(&mut s, 9_999).is_empty());
        assert_eq!(events(&tick(&mut s, 10_000)), ["pusher:ping"]);
        assert!(tick(&mut s, 14_999).is_empty(), "one ping, then wait");
        assert_eq!(
            tick(&mut s, 15_000),
            [Effect::Close(PusherError::PongNotReceived)]
        );
    }

    #[test]
    fn any_traffic_answers_the_ping() {
        let mut s = pinging();
        tick(&mut s, 10_000);
        s.seen(Millis(12_000));
        assert!(tick(&mut s, 16_000).is_empty());
        assert_eq!(events(&tick(&mut s, 22_000)), ["pusher:ping"]);
    }

    #[test]
    fn the_signin_deadline_closes_only_anonymous_connections() {
        let strict = Rules {
            signin_timeout: Some(3),
            ..rules()
        };
        let mut s = session_as(strict.clone(), None);
        assert!(tick(&mut s, 2_999).is_empty());
        let out = tick(&mut s, 3_000);
        assert_eq!(out, [Effect::Close(PusherError::SigninTimeout)]);
        assert_eq!(PusherError::SigninTimeout.code(), 4009);
        let mut signed = session_as(strict, None);
        send(&mut signed, signin(r#"{"id":"u1"}"#), 100);
        assert!(tick(&mut signed, 3_000).is_empty());
    }

    #[test]
    fn the_message_rate_drops_the_excess_and_reports_it_once() {
        let mut s = session_as(
            Rules {
                max_messages_per_second: 2,
                ..rules()
            },
            None,
        );
        let mut out = Vec::new();
        assert!(s.admit_message(Millis(0), &mut out));
        assert!(s.admit_message(Millis(10), &mut out));
        assert!(!s.admit_message(Millis(20), &mut out));
        assert!(!s.admit_message(Millis(30), &mut out));
        assert_eq!(
            out,
            [Effect::Error(PusherError::MessageRateExceeded { limit: 2 })]
        );
        assert!(s.admit_message(Millis(1_000), &mut out), "a new second");
    }
}
