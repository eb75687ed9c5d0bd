//! The delivery plan: what the control core does with notifications it has claimed from the
//! store, and with a publish that failed.
//!
//! Owns three decisions, all driven by the `now` passed in: which claimed notifications go out
//! at once (overdue ones, after a restart for instance) and in what order, which go on the
//! timing wheel, and which are too far ahead for it and go back to the store; then, after a
//! failed publish, when to retry (exponential backoff) or that it has failed, with the reason.
//! It never talks to the store, the wheel or the shards, and never reads a clock.

use std::time::Duration;

/// A claimed notification as the plan sees it: the caller's key (an id or a row) and when it
/// is due, unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim<K> {
    /// The caller's handle on the notification.
    pub key: K,
    /// When it goes out (`deliver_at`, after quiet hours), unix milliseconds.
    pub deliver_at_ms: u64,
}

/// Claimed notifications sorted into what to do with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<K> {
    /// Due by `now`: publish in this order (due time, then claim order).
    pub publish_now: Vec<Claim<K>>,
    /// Due within the horizon: insert into the timing wheel.
    pub schedule: Vec<Claim<K>>,
    /// Due beyond the horizon: release the lease, a later claim takes them.
    pub release: Vec<Claim<K>>,
}

/// Sorts `claims` (in the store's order, which breaks ties between equal due times) by what to
/// do with them at `now_ms`, given the wheel's horizon.
///
/// Overdue notifications are published in due-time order, so within one channel they go out in
/// the order they were due even after hours of downtime.
pub fn plan_claims<K>(claims: Vec<Claim<K>>, now_ms: u64, horizon_ms: u64) -> Plan<K> {
    let mut plan = Plan {
        publish_now: Vec::new(),
        schedule: Vec::new(),
        release: Vec::new(),
    };
    for claim in claims {
        let ahead = claim.deliver_at_ms.saturating_sub(now_ms);
        let bucket = if ahead == 0 {
            &mut plan.publish_now
        } else if ahead < horizon_ms {
            &mut plan.schedule
        } else {
            &mut plan.release
        };
        bucket.push(claim);
    }
    // Stable: equal due times keep the store's order.
    plan.publish_now.sort_by_key(|c| c.deliver_at_ms);
    plan
}

/// How failed publishes are retried.
///
/// A retry waits on the wheel like any other item, so notifications due later on the same
/// channel can overtake it: due-time order per channel holds for deliveries that succeed at
/// their first attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; after the last failure the notification fails.
    pub max_attempts: u32,
    /// The wait after the first failure; each later one doubles it.
    pub first_delay: Duration,
    /// The longest wait between attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, waiting 1 s, 2 s, 4 s and 8 s between them.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again at this time, unix milliseconds (put it back on the wheel).
    Retry {
        /// When to try again.
        at_ms: u64,
    },
    /// Give up: store the notification as failed with this reason.
    Fail {
        /// What the GET view shows as the last error.
        reason: String,
    },
}

impl RetryPolicy {
    /// The decision after attempt number `attempts` (1 for the first) failed at `now_ms` with
    /// `error`.
    pub fn after_failure(&self, attempts: u32, now_ms: u64, error: &str) -> AfterFailure {
        if attempts >= self.max_attempts {
            return AfterFailure::Fail {
                reason: format!("gave up after {attempts} attempts: {error}"),
            };
        }
        AfterFailure::Retry {
            at_ms: now_ms.saturating_add(self.delay(attempts).as_millis() as u64),
        }
    }

    /// The wait after failed attempt number `attempts`: doubling from `first_delay`, capped.
    pub fn delay(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(31);
        self.first_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(key: &'static str, deliver_at_ms: u64) -> Claim<&'static str> {
        Claim { key, deliver_at_ms }
    }

    fn keys(claims: &[Claim<&'static str>]) -> Vec<&'static str> {
        claims.iter().map(|c| c.key).collect()
    }

    #[test]
    fn overdue_go_out_now_in_due_order_then_wheel_then_store() {
        let claims = vec![
            claim("c", 900),
            claim("a", 500),
            claim("soon", 1_500),
            claim("far", 1_000 + 10_000),
            claim("b", 900),
            claim("exactly-now", 1_000),
        ];
        let p = plan_claims(claims, 1_000, 10_000);
        assert_eq!(keys(&p.publish_now), ["a", "c", "b", "exactly-now"]);
        assert_eq!(keys(&p.schedule), ["soon"]);
        assert_eq!(keys(&p.release), ["far"]);
    }

    #[test]
    fn retries_back_off_exponentially_then_fail_with_the_reason() {
        let policy = RetryPolicy::default();
        let at = |attempts| match policy.after_failure(attempts, 10_000, "ring full") {
            AfterFailure::Retry { at_ms } => at_ms,
            AfterFailure::Fail { reason } => panic!("failed early: {reason}"),
        };
        assert_eq!(
            [at(1), at(2), at(3), at(4)],
            [11_000, 12_000, 14_000, 18_000]
        );
        assert_eq!(
            policy.after_failure(5, 10_000, "ring full"),
            AfterFailure::Fail {
                reason: "gave up after 5 attempts: ring full".to_owned()
            }
        );
    }

    #[test]
    fn the_delay_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 100,
            first_delay: Duration::from_millis(300),
            max_delay: Duration::from_secs(5),
        };
        assert_eq!(policy.delay(1), Duration::from_millis(300));
        assert_eq!(policy.delay(4), Duration::from_millis(2_400));
        assert_eq!(policy.delay(5), Duration::from_millis(4_800));
        assert_eq!(policy.delay(6), Duration::from_secs(5));
        assert_eq!(policy.delay(99), Duration::from_secs(5));
    }
}
