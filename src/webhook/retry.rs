//! What an attempt's outcome means and when the next attempt goes.
//!
//! Owns the classification of an HTTP answer (2xx success; 3xx, 4xx, 5xx, a timeout and a
//! connection error fail; 408 and 429 are retried honouring `Retry-After`; 410 disables the
//! endpoint) and the retry schedule: one attempt, then up to `max_retries` retries, each after
//! the next delay of `retry_delays` (the last delay repeats if the list is shorter). It never
//! sends anything and never reads a clock.
//!
//! Decision: 408 and 429 do NOT count toward the circuit breaker. The receiver is up and asks
//! us to slow down; opening the breaker would pause it for an hour when it asked for seconds.
//! They do use up an attempt, so a receiver that always answers 429 still ends in `failed`.

use std::time::Duration;

use super::dates::parse_http_date;

/// The longest `Retry-After` honoured; a longer one is capped so that a receiver cannot park a
/// delivery for months.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// What one attempt came back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// An HTTP answer, with its `Retry-After` header if any.
    Status {
        /// The status code.
        code: u16,
        /// The raw `Retry-After` value.
        retry_after: Option<&'a str>,
    },
    /// No answer within the timeout.
    Timeout,
    /// The connection failed (refused, reset, TLS, DNS, refused by the SSRF guard).
    Connect(&'a str),
}

/// The meaning of an outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: delivered.
    Success,
    /// Worth another attempt.
    Failure {
        /// Whether this failure counts toward opening the breaker.
        counts_for_breaker: bool,
        /// The receiver's requested wait, when it gave a usable `Retry-After`.
        retry_after: Option<Duration>,
        /// For the delivery log.
        error: String,
    },
    /// 410 Gone: the endpoint asked never to be called again; it is disabled.
    Gone,
}

/// Classifies an outcome at `now_ms` (needed to turn an HTTP-date `Retry-After` into a wait).
pub fn classify(outcome: &Outcome<'_>, now_ms: i64) -> Verdict {
    match *outcome {
        Outcome::Status { code, .. } if (200..300).contains(&code) => Verdict::Success,
        Outcome::Status { code: 410, .. } => Verdict::Gone,
        Outcome::Status {
            code: code @ (408 | 429),
            retry_after,
        } => Verdict::Failure {
            counts_for_breaker: false,
            retry_after: retry_after.and_then(|v| parse_retry_after(v, now_ms)),
            error: format!("HTTP {code}"),
        },
        Outcome::Status { code, .. } => Verdict::Failure {
            counts_for_breaker: true,
            retry_after: None,
            error: format!("HTTP {code}"),
        },
        Outcome::Timeout => Verdict::Failure {
            counts_for_breaker: true,
            retry_after: None,
            error: "timed out".to_owned(),
        },
        Outcome::Connect(reason) => Verdict::Failure {
            counts_for_breaker: true,
            retry_after: None,
            error: format!("connection failed: {reason}"),
        },
    }
}

/// A `Retry-After` value as a wait from `now_ms`: delay-seconds or an IMF-fixdate. A date in
/// the past is a wait of zero; anything unparsable is `None`; waits are capped at a day.
pub fn parse_retry_after(value: &str, now_ms: i64) -> Option<Duration> {
    let value = value.trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at_ms = parse_http_date(value)?.saturating_mul(1000);
        Duration::from_millis(u64::try_from(at_ms.saturating_sub(now_ms)).unwrap_or(0))
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// What becomes of a delivery after an attempt, or after a wait that used no attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextState {
    /// Try again at this time (unix ms).
    Retry {
        /// When.
        at_ms: i64,
    },
    /// Done: the receiver answered 2xx.
    Delivered,
    /// Done: attempts exhausted, endpoint gone or disabled.
    Failed,
    /// Not attempted (breaker open, rate limit): due again at this time without using an
    /// attempt.
    Wait {
        /// When.
        until_ms: i64,
    },
}

/// An endpoint's retry schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Seconds before each retry.
    pub delays: Vec<u32>,
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1-based); the last delay repeats, and an empty
    /// list retries at once.
    pub fn delay(&self, retry: u32) -> Duration {
        let idx = (retry.max(1) - 1) as usize;
        let secs = self
            .delays
            .get(idx)
            .or(self.delays.last())
            .copied()
            .unwrap_or(0);
        Duration::from_secs(u64::from(secs))
    }

    /// The state after attempt number `attempt` (1-based) ended with `verdict` at `now_ms`.
    /// A `Retry-After` replaces the scheduled delay for that retry.
    pub fn next(&self, attempt: u32, verdict: &Verdict, now_ms: i64) -> NextState {
        match verdict {
            Verdict::Success => NextState::Delivered,
            Verdict::Gone => NextState::Failed,
            Verdict::Failure { retry_after, .. } => {
                if attempt > self.max_retries {
                    return NextState::Failed;
                }
                let wait = retry_after.unwrap_or_else(|| self.delay(attempt));
                let wait_ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
                NextState::Retry {
                    at_ms: now_ms.saturating_add(wait_ms),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::endpoint::{Format, DEFAULT_RETRY_DELAYS};

    fn fail_503() -> Verdict {
        classify(
            &Outcome::Status {
                code: 503,
                retry_after: None,
            },
            0,
        )
    }

    /// Runs a delivery that always fails from t=0 and returns the attempt times in seconds.
    fn attempt_times(policy: &RetryPolicy) -> Vec<i64> {
        let mut times = vec![0i64];
        let mut attempt = 1;
        loop {
            let now = *times.last().unwrap() * 1000;
            match policy.next(attempt, &fail_503(), now) {
                NextState::Retry { at_ms } => times.push(at_ms / 1000),
                NextState::Failed => return times,
                other => panic!("unexpected {other:?}"),
            }
            attempt += 1;
        }
    }

    #[test]
    fn default_schedule_is_one_attempt_then_five_retries_exactly() {
        let policy = RetryPolicy {
            max_retries: Format::Standard.default_max_retries(),
            delays: DEFAULT_RETRY_DELAYS.to_vec(),
        };
        assert_eq!(
            attempt_times(&policy),
            vec![0, 60, 360, 1260, 4860, 12060],
            "six attempts, each after the next delay"
        );
    }

    #[test]
    fn pusher_schedule_is_five_attempts_within_five_minutes() {
        let policy = RetryPolicy {
            max_retries: Format::Pusher.default_max_retries(),
            delays: Format::Pusher.default_retry_delays(),
        };
        let times = attempt_times(&policy);
        assert_eq!(times.len(), 5);
        assert!(*times.last().unwrap() < 300, "{times:?}");
    }

    #[test]
    fn short_delay_lists_repeat_the_last_and_zero_retries_fail_at_once() {
        let policy = RetryPolicy {
            max_retries: 4,
            delays: vec![1, 2],
        };
        assert_eq!(attempt_times(&policy), vec![0, 1, 3, 5, 7]);
        let none = RetryPolicy {
            max_retries: 0,
            delays: vec![60],
        };
        assert_eq!(attempt_times(&none), vec![0]);
        let empty = RetryPolicy {
            max_retries: 2,
            delays: vec![],
        };
        assert_eq!(attempt_times(&empty), vec![0, 0, 0]);
    }

    #[test]
    fn status_classes() {
        let status = |code| {
            classify(
                &Outcome::Status {
                    code,
                    retry_after: None,
                },
                0,
            )
        };
        for code in [200, 201, 204, 299] {
            assert_eq!(status(code), Verdict::Success, "{code}");
        }
        for code in [
            301, 302, 304, 400, 401, 403, 404, 409, 422, 500, 502, 503, 504, 199,
        ] {
            assert!(
                matches!(
                    status(code),
                    Verdict::Failure {
                        counts_for_breaker: true,
                        ..
                    }
                ),
                "{code}"
            );
        }
        for code in [408, 429] {
            assert!(
                matches!(
                    status(code),
                    Verdict::Failure {
                        counts_for_breaker: false,
                        ..
                    }
                ),
                "{code}"
            );
        }
        assert_eq!(status(410), Verdict::Gone);
        let policy = RetryPolicy {
            max_retries: 5,
            delays: vec![1],
        };
        assert_eq!(policy.next(1, &status(410), 0), NextState::Failed);
        assert_eq!(policy.next(1, &status(204), 0), NextState::Delivered);
    }

    #[test]
    fn timeouts_and_connection_errors_fail_and_count() {
        for outcome in [Outcome::Timeout, Outcome::Connect("refused")] {
            let Verdict::Failure {
                counts_for_breaker,
                error,
                ..
            } = classify(&outcome, 0)
            else {
                panic!("{outcome:?} must fail");
            };
            assert!(counts_for_breaker);
            assert!(!error.is_empty());
        }
    }

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let now_ms = 1_445_412_480_000 - 90_000; // 90 s before Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(
            parse_retry_after("120", now_ms),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now_ms),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now_ms + 200_000),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(
            parse_retry_after("999999999999999999999", 0),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(parse_retry_after("-5", 0), None);
        assert_eq!(parse_retry_after("", 0), None);
    }

    #[test]
    fn a_429_with_retry_after_replaces_the_scheduled_delay() {
        let policy = RetryPolicy {
            max_retries: 3,
            delays: vec![600],
        };
        let verdict = classify(
            &Outcome::Status {
                code: 429,
                retry_after: Some("7"),
            },
            1000,
        );
        assert_eq!(
            policy.next(1, &verdict, 1000),
            NextState::Retry { at_ms: 8000 }
        );
        let bare = classify(
            &Outcome::Status {
                code: 429,
                retry_after: None,
            },
            1000,
        );
        assert_eq!(
            policy.next(1, &bare, 1000),
            NextState::Retry { at_ms: 601_000 }
        );
        let garbage = classify(
            &Outcome::Status {
                code: 408,
                retry_after: Some("x"),
            },
            0,
        );
        assert_eq!(
            policy.next(1, &garbage, 0),
            NextState::Retry { at_ms: 600_000 }
        );
        assert_eq!(
            policy.next(4, &verdict, 0),
            NextState::Failed,
            "attempts still run out"
        );
    }
}
