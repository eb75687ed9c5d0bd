//! The per-endpoint decisions of the delivery loop, sans-IO: may a due delivery go now, and what
//! follows from an attempt's outcome.
//!
//! Owns the order of the gates (breaker first, so a paused endpoint spends neither attempts nor
//! rate-limit tokens; then the token bucket) and the bookkeeping after an attempt (breaker
//! update, retry schedule, disabling on 410). The caller persists what it returns through the
//! store. It never sends, never sleeps and never reads a clock.

use super::breaker::{Admission, BreakerConfig, BreakerState};
use super::bucket::TokenBucket;
use super::retry::{classify, NextState, Outcome, RetryPolicy, Verdict};

/// What the loop keeps in memory per endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EndpointGate {
    /// The breaker (persisted after each change).
    pub breaker: BreakerState,
    /// The rate limit, when the endpoint has one.
    pub bucket: Option<TokenBucket>,
}

/// Whether a due delivery goes now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Send it (as the breaker's probe when `probe`).
    Send {
        /// This attempt decides whether the breaker closes.
        probe: bool,
    },
    /// Hold it until then without using an attempt (`NextState::Wait`).
    Wait {
        /// Unix ms.
        until_ms: i64,
    },
}

/// The consequences of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// Where the delivery goes next.
    pub next: NextState,
    /// For the log; `None` on success.
    pub error: Option<String>,
    /// 410: the endpoint must be disabled.
    pub disable_endpoint: bool,
    /// The breaker opened (or re-opened) with this attempt.
    pub breaker_opened: bool,
}

impl EndpointGate {
    /// A gate with a persisted breaker and an optional rate limit, at `now_ms`.
    pub fn new(breaker: BreakerState, rate_per_s: Option<u32>, now_ms: i64) -> EndpointGate {
        EndpointGate {
            breaker,
            bucket: rate_per_s.map(|r| TokenBucket::new(r, now_ms)),
        }
    }

    /// Decides whether a due delivery may be sent at `now_ms`.
    pub fn admit(&mut self, cfg: &BreakerConfig, now_ms: i64) -> Gate {
        let probe = match self.breaker.admit(cfg, now_ms) {
            Admission::Wait { until_ms } => return Gate::Wait { until_ms },
            Admission::Probe => true,
            Admission::Send => false,
        };
        if let Some(bucket) = &mut self.bucket {
            if let Err(wait_ms) = bucket.try_take(now_ms) {
                if probe {
                    // The probe did not go: let the next due delivery probe instead.
                    self.breaker.on_neutral();
                }
                let wait = i64::try_from(wait_ms).unwrap_or(i64::MAX);
                return Gate::Wait {
                    until_ms: now_ms.saturating_add(wait),
                };
            }
        }
        Gate::Send { probe }
    }

    /// Records attempt number `attempt` (1-based) that ended with `outcome` at `now_ms`.
    pub fn settle(
        &mut self,
        cfg: &BreakerConfig,
        policy: &RetryPolicy,
        attempt: u32,
        outcome: &Outcome<'_>,
        now_ms: i64,
    ) -> Settlement {
        let verdict = classify(outcome, now_ms);
        let mut breaker_opened = false;
        let error = match &verdict {
            Verdict::Success => {
                self.breaker.on_success();
                None
            }
            Verdict::Gone => {
                // The receiver answered; it is not down, it asked never to be called again.
                self.breaker.on_neutral();
                Some("HTTP 410: endpoint gone, disabled".to_owned())
            }
            Verdict::Failure {
                counts_for_breaker,
                error,
                ..
            } => {
                if *counts_for_breaker {
                    breaker_opened = self.breaker.on_failure(cfg, now_ms);
                } else {
                    self.breaker.on_neutral();
                }
                Some(error.clone())
            }
        };
        Settlement {
            next: policy.next(attempt, &verdict, now_ms),
            error,
            disable_endpoint: verdict == Verdict::Gone,
            breaker_opened,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: BreakerConfig = BreakerConfig::DEFAULT;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 10,
            delays: vec![1],
        }
    }

    fn status(code: u16) -> Outcome<'static> {
        Outcome::Status {
            code,
            retry_after: None,
        }
    }

    #[test]
    fn five_failures_pause_the_endpoint_then_one_probe_closes_it() {
        let mut gate = EndpointGate::default();
        let mut now = 0;
        for attempt in 1..=5 {
            assert_eq!(gate.admit(&CFG, now), Gate::Send { probe: false });
            let s = gate.settle(&CFG, &policy(), attempt, &status(500), now);
            assert_eq!(s.next, NextState::Retry { at_ms: now + 1_000 });
            assert_eq!(s.breaker_opened, attempt == 5);
            now += 1_000;
        }
        // Due while paused: wait until the pause ends, using no attempt.
        assert_eq!(
            gate.admit(&CFG, now),
            Gate::Wait {
                until_ms: 3_604_000
            }
        );
        assert_eq!(gate.admit(&CFG, 3_604_000), Gate::Send { probe: true });
        assert_eq!(
            gate.admit(&CFG, 3_604_000),
            Gate::Wait {
                until_ms: 3_605_000
            }
        );
        let s = gate.settle(&CFG, &policy(), 6, &status(200), 3_604_100);
        assert_eq!((s.next, s.error), (NextState::Delivered, None));
        assert_eq!(gate.admit(&CFG, 3_604_200), Gate::Send { probe: false });
    }

    #[test]
    fn a_failed_probe_pauses_again_and_429_does_not_count() {
        let mut gate = EndpointGate::new(
            BreakerState {
                consecutive_failures: 5,
                open_until_ms: Some(100),
                probing: false,
            },
            None,
            0,
        );
        assert_eq!(gate.admit(&CFG, 100), Gate::Send { probe: true });
        let s = gate.settle(&CFG, &policy(), 1, &Outcome::Timeout, 150);
        assert!(s.breaker_opened);
        assert_eq!(
            gate.admit(&CFG, 200),
            Gate::Wait {
                until_ms: 3_600_150
            }
        );

        let mut fresh = EndpointGate::default();
        for attempt in 1..=10 {
            let s = fresh.settle(
                &CFG,
                &policy(),
                attempt,
                &Outcome::Status {
                    code: 429,
                    retry_after: Some("2"),
                },
                0,
            );
            assert_eq!(s.next, NextState::Retry { at_ms: 2_000 });
            assert!(!s.breaker_opened);
        }
        assert_eq!(fresh.breaker.consecutive_failures, 0);
    }

    #[test]
    fn gone_disables_and_the_rate_limit_defers_without_spending_the_probe() {
        let mut gate = EndpointGate::default();
        let s = gate.settle(&CFG, &policy(), 1, &status(410), 0);
        assert!(s.disable_endpoint);
        assert_eq!(s.next, NextState::Failed);

        let mut limited = EndpointGate::new(BreakerState::default(), Some(2), 0);
        assert_eq!(limited.admit(&CFG, 0), Gate::Send { probe: false });
        assert_eq!(limited.admit(&CFG, 0), Gate::Send { probe: false });
        assert_eq!(limited.admit(&CFG, 0), Gate::Wait { until_ms: 500 });

        let paused = BreakerState {
            consecutive_failures: 5,
            open_until_ms: Some(0),
            probing: false,
        };
        let mut empty = EndpointGate::new(paused, Some(1), 0);
        empty.bucket.as_mut().unwrap().try_take(0).unwrap();
        assert_eq!(empty.admit(&CFG, 0), Gate::Wait { until_ms: 1_000 });
        assert!(!empty.breaker.probing, "the probe was not spent");
        assert_eq!(empty.admit(&CFG, 1_000), Gate::Send { probe: true });
    }
}
