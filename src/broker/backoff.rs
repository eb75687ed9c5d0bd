//! Reconnect delays: exponential growth from `base`, capped at `max`, with jitter.
//!
//! A pure function of the attempt number and a random number in `[0, 1)` that the caller
//! draws, so the policy is tested without a clock or a random source. Never sleeps.

use std::time::Duration;

/// How long to wait between reconnect attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay ceiling of the first retry.
    pub base: Duration,
    /// Delay ceiling of every later retry.
    pub max: Duration,
}

impl Default for Backoff {
    /// 100 ms doubling to 5 s: a restarted Redis is found again within a few seconds, while
    /// many nodes retrying a dead one send a handful of SYNs per second between them.
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(5),
        }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (0 for the first retry after a failure).
    ///
    /// "Equal jitter": half of the exponential ceiling is fixed and half is scaled by
    /// `unit` (clamped to `[0, 1]`). The fixed half keeps a node from hammering Redis at
    /// zero delay; the random half spreads nodes that all lost Redis at the same moment.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        let ceiling = self.base.saturating_mul(factor).min(self.max);
        let unit = if unit.is_nan() {
            0.0
        } else {
            unit.clamp(0.0, 1.0)
        };
        let half = ceiling / 2;
        // try_from (not mul_f64) so a ceiling near Duration::MAX cannot panic on rounding.
        let random = Duration::try_from_secs_f64(half.as_secs_f64() * unit).unwrap_or(half);
        half + random.min(half)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn doubles_from_base_and_caps_at_max() {
        let b = Backoff::default();
        let ceilings: Vec<_> = (0..8).map(|a| b.delay(a, 1.0)).collect();
        assert_eq!(
            ceilings,
            [100, 200, 400, 800, 1600, 3200, 5000, 5000].map(MS)
        );
        assert_eq!(b.delay(0, 0.0), MS(50));
        assert_eq!(b.delay(6, 0.0), MS(2500));
    }

    #[test]
    fn jitter_stays_within_half_and_whole_ceiling() {
        let b = Backoff::default();
        for attempt in [0, 3, 9] {
            let ceiling = b.delay(attempt, 1.0);
            for unit in [0.0, 0.25, 0.5, 0.999] {
                let d = b.delay(attempt, unit);
                assert!(d >= ceiling / 2 && d <= ceiling, "{attempt} {unit}: {d:?}");
            }
            assert!(b.delay(attempt, 0.1) < b.delay(attempt, 0.9));
        }
    }

    #[test]
    fn huge_attempts_and_odd_units_do_not_overflow() {
        let b = Backoff::default();
        assert_eq!(b.delay(u32::MAX, 1.0), MS(5000));
        assert_eq!(b.delay(40, 7.0), MS(5000));
        assert_eq!(b.delay(40, -1.0), MS(2500));
        assert_eq!(b.delay(40, f64::NAN), MS(2500));
        let wide = Backoff {
            base: Duration::from_secs(u64::MAX / 4),
            max: Duration::MAX,
        };
        assert!(wide.delay(31, 1.0) >= Duration::MAX / 2);
    }
}
