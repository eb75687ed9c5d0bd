//! The per-endpoint rate limit (`rate_limit_per_s`) as a token bucket on `now`.
//!
//! Owns the arithmetic only: a bucket holds up to one second of tokens (`rate` of them), refills
//! continuously, and a delivery takes one token or learns how long to wait. Tokens are counted
//! in thousandths so that refill is exact integer arithmetic. It never reads a clock and never
//! queues anything; the caller defers the delivery by the returned wait.

/// A token bucket for one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBucket {
    /// Tokens per second, also the burst size.
    rate: u32,
    /// Thousandths of a token available.
    milli_tokens: u64,
    /// When `milli_tokens` was last brought up to date (unix ms).
    last_ms: i64,
}

impl TokenBucket {
    /// A full bucket of `rate` tokens per second (at least 1) at `now_ms`.
    pub fn new(rate: u32, now_ms: i64) -> TokenBucket {
        let rate = rate.max(1);
        TokenBucket {
            rate,
            milli_tokens: u64::from(rate) * 1000,
            last_ms: now_ms,
        }
    }

    fn refill(&mut self, now_ms: i64) {
        let elapsed = u64::try_from(now_ms.saturating_sub(self.last_ms)).unwrap_or(0);
        let cap = u64::from(self.rate) * 1000;
        // `rate` tokens per second is `rate` thousandths per millisecond.
        self.milli_tokens =
            cap.min(self.milli_tokens + elapsed.saturating_mul(u64::from(self.rate)));
        self.last_ms = self.last_ms.max(now_ms);
    }

    /// Takes a token at `now_ms`, or returns how many ms until one is available.
    pub fn try_take(&mut self, now_ms: i64) -> Result<(), u64> {
        self.refill(now_ms);
        if self.milli_tokens >= 1000 {
            self.milli_tokens -= 1000;
            return Ok(());
        }
        let missing = 1000 - self.milli_tokens;
        Err(missing.div_ceil(u64::from(self.rate)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_rate_then_one_per_interval() {
        let mut b = TokenBucket::new(10, 0);
        for _ in 0..10 {
            assert_eq!(b.try_take(0), Ok(()));
        }
        assert_eq!(b.try_take(0), Err(100));
        assert_eq!(b.try_take(99), Err(1));
        assert_eq!(b.try_take(100), Ok(()));
        assert_eq!(b.try_take(100), Err(100));
    }

    #[test]
    fn never_more_than_rate_in_any_second_over_a_long_run() {
        let mut b = TokenBucket::new(7, 0);
        let mut sent = Vec::new();
        for now in 0..10_000 {
            if b.try_take(now).is_ok() {
                sent.push(now);
            }
        }
        // Steady state: 7 per second, plus the initial burst of 7.
        assert_eq!(sent.len(), 7 + 7 * 10 - 1);
        for w in sent.windows(15) {
            assert!(w[14] - w[0] >= 1000, "15 sends within a second: {w:?}");
        }
    }

    #[test]
    fn idle_time_refills_only_up_to_the_burst_and_clocks_going_back_are_harmless() {
        let mut b = TokenBucket::new(2, 0);
        assert!(b.try_take(0).is_ok());
        assert!(b.try_take(0).is_ok());
        assert!(b.try_take(60_000).is_ok());
        assert!(b.try_take(60_000).is_ok());
        assert!(
            b.try_take(60_000).is_err(),
            "a minute idle still bursts only 2"
        );
        assert_eq!(
            b.try_take(59_000),
            Err(500),
            "time going back refills nothing"
        );
        assert_eq!(
            TokenBucket::new(0, 0).try_take(0),
            Ok(()),
            "rate 0 is treated as 1"
        );
    }
}
