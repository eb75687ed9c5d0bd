//! The circuit breaker of one endpoint: closed, open for a pause, then one probe.
//!
//! Owns the state machine: `threshold` consecutive failed attempts (default 5) open the breaker
//! for `pause` (default 1 h); once the pause is over exactly one delivery is let through as a
//! probe; its success closes the breaker, its failure re-opens it for another pause. While the
//! breaker is open, or a probe is in flight, due deliveries wait without using an attempt. The
//! state is a plain value so the store can persist it; this module never reads a clock.

/// Breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failed attempts that open the breaker.
    pub threshold: u32,
    /// How long an open breaker pauses the endpoint, in ms.
    pub pause_ms: i64,
    /// How long other deliveries wait while the probe is in flight before asking again, in ms.
    pub probe_wait_ms: i64,
}

impl BreakerConfig {
    /// 5 failures, a 1 h pause, probes re-asked every second.
    pub const DEFAULT: BreakerConfig = BreakerConfig {
        threshold: 5,
        pause_ms: 3_600_000,
        probe_wait_ms: 1_000,
    };
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig::DEFAULT
    }
}

/// The persisted state of one endpoint's breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BreakerState {
    /// Failed attempts since the last success (only those that count; see `retry`).
    pub consecutive_failures: u32,
    /// While set, the breaker is open until this time (unix ms).
    pub open_until_ms: Option<i64>,
    /// A probe has been let through and has not answered yet.
    pub probing: bool,
}

/// Whether a due delivery may be sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Closed: send.
    Send,
    /// The pause is over: send this one as the probe.
    Probe,
    /// Open or probing: wait until this time without using an attempt.
    Wait {
        /// Unix ms.
        until_ms: i64,
    },
}

impl BreakerState {
    /// Asks whether a delivery may go at `now_ms`; letting a probe through marks it in flight.
    pub fn admit(&mut self, cfg: &BreakerConfig, now_ms: i64) -> Admission {
        let Some(until) = self.open_until_ms else {
            return Admission::Send;
        };
        if now_ms < until {
            return Admission::Wait { until_ms: until };
        }
        if self.probing {
            return Admission::Wait {
                until_ms: now_ms + cfg.probe_wait_ms,
            };
        }
        self.probing = true;
        Admission::Probe
    }

    /// Records a successful attempt: the breaker closes.
    pub fn on_success(&mut self) {
        *self = BreakerState::default();
    }

    /// Records a failed attempt that counts; returns whether the breaker (re-)opened.
    pub fn on_failure(&mut self, cfg: &BreakerConfig, now_ms: i64) -> bool {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let reopen = self.probing || self.consecutive_failures >= cfg.threshold;
        if reopen {
            self.open_until_ms = Some(now_ms.saturating_add(cfg.pause_ms));
            self.probing = false;
        }
        reopen
    }

    /// Records an attempt whose outcome neither closes nor opens the breaker (408/429): a probe
    /// that got one is over, and the next due delivery probes again.
    pub fn on_neutral(&mut self) {
        self.probing = false;
    }

    /// After a restart, a probe marked in flight was lost with the process: allow a new one.
    pub fn after_restart(&mut self) {
        self.probing = false;
    }

    /// Whether the breaker is open (paused or probing) at `now_ms`, for stats and metrics.
    pub fn is_open(&self, now_ms: i64) -> bool {
        self.open_until_ms.is_some_and(|u| now_ms < u) || self.probing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: BreakerConfig = BreakerConfig::DEFAULT;

    fn opened_at(t: i64) -> BreakerState {
        let mut b = BreakerState::default();
        for i in 0..5 {
            assert_eq!(b.admit(&CFG, t), Admission::Send);
            assert_eq!(
                b.on_failure(&CFG, t),
                i == 4,
                "opens on the fifth failure only"
            );
        }
        b
    }

    #[test]
    fn five_failures_open_for_an_hour() {
        let mut b = opened_at(1_000);
        assert_eq!(b.open_until_ms, Some(3_601_000));
        assert!(b.is_open(1_000));
        assert_eq!(
            b.admit(&CFG, 3_600_999),
            Admission::Wait {
                until_ms: 3_601_000
            }
        );
    }

    #[test]
    fn one_probe_after_the_pause_and_success_closes() {
        let mut b = opened_at(0);
        assert_eq!(b.admit(&CFG, 3_600_000), Admission::Probe);
        assert_eq!(
            b.admit(&CFG, 3_600_000),
            Admission::Wait {
                until_ms: 3_601_000
            },
            "only one probe at a time"
        );
        b.on_success();
        assert_eq!(b, BreakerState::default());
        assert_eq!(b.admit(&CFG, 3_600_001), Admission::Send);
    }

    #[test]
    fn a_failed_probe_reopens_for_another_pause() {
        let mut b = opened_at(0);
        assert_eq!(b.admit(&CFG, 4_000_000), Admission::Probe);
        assert!(b.on_failure(&CFG, 4_000_000));
        assert_eq!(b.open_until_ms, Some(7_600_000));
        assert!(!b.probing);
        assert_eq!(
            b.admit(&CFG, 7_599_999),
            Admission::Wait {
                until_ms: 7_600_000
            }
        );
        assert_eq!(b.admit(&CFG, 7_600_000), Admission::Probe);
    }

    #[test]
    fn a_success_resets_the_count_before_the_threshold() {
        let mut b = BreakerState::default();
        for _ in 0..4 {
            b.on_failure(&CFG, 0);
        }
        b.on_success();
        for _ in 0..4 {
            assert!(!b.on_failure(&CFG, 0));
        }
        assert!(!b.is_open(0));
    }

    #[test]
    fn a_neutral_probe_and_a_restart_allow_a_new_probe() {
        let mut b = opened_at(0);
        assert_eq!(b.admit(&CFG, 3_600_000), Admission::Probe);
        b.on_neutral();
        assert_eq!(b.admit(&CFG, 3_600_000), Admission::Probe);
        b.after_restart();
        assert_eq!(b.admit(&CFG, 3_600_500), Admission::Probe);
    }
}
