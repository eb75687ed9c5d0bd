//! Time as the session sees it: a plain count of milliseconds the shell passes in, and the
//! one-second counting window every per-connection rate uses.
//!
//! The shell picks the epoch (its start) and converts its monotonic clock; nothing here reads
//! a clock, so every rule that depends on time is tested by passing numbers.

/// Monotonic milliseconds since an epoch the shell chose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Millis(pub u64);

impl Millis {
    /// Milliseconds from `earlier` to `self` (zero if `earlier` is later).
    pub fn since(self, earlier: Millis) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Milliseconds in `secs` seconds.
pub fn secs(secs: u32) -> u64 {
    u64::from(secs) * 1000
}

/// A fixed one-second window: the second it started and what was counted in it.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    start: Millis,
    count: u32,
}

impl Window {
    /// An empty window starting at `now`.
    pub fn new(now: Millis) -> Self {
        Window {
            start: now,
            count: 0,
        }
    }

    fn roll(&mut self, now: Millis) {
        if now.since(self.start) >= 1000 {
            self.start = now;
            self.count = 0;
        }
    }

    /// Counts one more and returns the count in the current second, refused ones included
    /// (so a caller can tell the first excess from the later ones).
    pub fn hit(&mut self, now: Millis) -> u32 {
        self.roll(now);
        self.count = self.count.saturating_add(1);
        self.count
    }

    /// Takes `n` from a budget of `limit` per second; false (and nothing taken) when they do not
    /// fit.
    pub fn take(&mut self, now: Millis, n: u32, limit: u32) -> bool {
        self.roll(now);
        match self.count.checked_add(n) {
            Some(total) if total <= limit => {
                self.count = total;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_restarts_after_one_second() {
        let mut w = Window::new(Millis(0));
        assert_eq!(w.hit(Millis(10)), 1);
        assert_eq!(w.hit(Millis(999)), 2);
        assert_eq!(w.hit(Millis(1000)), 1, "a new second");
        assert!(w.take(Millis(1000), 2, 3));
        assert!(!w.take(Millis(1500), 1, 3), "1 + 2 already taken");
        assert!(w.take(Millis(2000), 3, 3));
        assert!(!w.take(Millis(2000), u32::MAX, 3), "no overflow");
    }

    #[test]
    fn millis_never_go_negative() {
        assert_eq!(Millis(5).since(Millis(9)), 0);
        assert_eq!(Millis(2500).since(Millis(500)), 2000);
        assert_eq!(secs(3), 3000);
    }
}
