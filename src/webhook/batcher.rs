//! Groups Pusher channel webhook events that occur within a short window (default 50 ms) into
//! one request, as Pusher's batch webhooks do.
//!
//! Owns the window arithmetic: the first event opens a window, events join it until it has
//! lasted `window_ms` or holds `max_events`, then the batch is handed out. It never sends or
//! stores anything and never reads a clock; the caller polls it at [`Batcher::deadline`].

/// The default batching window.
pub const DEFAULT_WINDOW_MS: i64 = 50;
/// The default cap on events per request, so one request stays small.
pub const DEFAULT_MAX_EVENTS: usize = 100;

/// Collects events into time-windowed batches.
#[derive(Debug)]
pub struct Batcher<T> {
    window_ms: i64,
    max_events: usize,
    opened_ms: Option<i64>,
    pending: Vec<T>,
}

impl<T> Batcher<T> {
    /// A batcher with this window and cap (a cap of 0 is treated as 1).
    pub fn new(window_ms: i64, max_events: usize) -> Batcher<T> {
        Batcher {
            window_ms,
            max_events: max_events.max(1),
            opened_ms: None,
            pending: Vec::new(),
        }
    }

    /// Adds an event at `now_ms`; returns a full batch when the cap is reached.
    pub fn push(&mut self, event: T, now_ms: i64) -> Option<Vec<T>> {
        self.opened_ms.get_or_insert(now_ms);
        self.pending.push(event);
        (self.pending.len() >= self.max_events).then(|| self.take())
    }

    /// When the open window closes, if one is open.
    pub fn deadline(&self) -> Option<i64> {
        self.opened_ms.map(|t| t + self.window_ms)
    }

    /// The batch whose window has closed by `now_ms`, if any.
    pub fn poll(&mut self, now_ms: i64) -> Option<Vec<T>> {
        match self.deadline() {
            Some(d) if now_ms >= d => Some(self.take()),
            _ => None,
        }
    }

    /// Everything pending, at shutdown.
    pub fn drain(&mut self) -> Vec<T> {
        self.take()
    }

    fn take(&mut self) -> Vec<T> {
        self.opened_ms = None;
        std::mem::take(&mut self.pending)
    }
}

impl<T> Default for Batcher<T> {
    fn default() -> Self {
        Batcher::new(DEFAULT_WINDOW_MS, DEFAULT_MAX_EVENTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_within_the_window_go_together() {
        let mut b = Batcher::default();
        assert_eq!(b.deadline(), None);
        assert_eq!(b.push(1, 1000), None);
        assert_eq!(b.push(2, 1030), None);
        assert_eq!(b.deadline(), Some(1050));
        assert_eq!(b.poll(1049), None);
        assert_eq!(b.push(3, 1049), None);
        assert_eq!(b.poll(1050), Some(vec![1, 2, 3]));
        assert_eq!(b.poll(5000), None, "nothing pending, nothing handed out");
        assert_eq!(b.push(4, 5000), None);
        assert_eq!(
            b.deadline(),
            Some(5050),
            "the next event opens a new window"
        );
    }

    #[test]
    fn the_cap_hands_out_a_batch_early_and_drain_empties() {
        let mut b = Batcher::new(50, 2);
        assert_eq!(b.push('a', 0), None);
        assert_eq!(b.push('b', 1), Some(vec!['a', 'b']));
        assert_eq!(b.deadline(), None);
        b.push('c', 2);
        assert_eq!(b.drain(), vec!['c']);
        assert_eq!(b.poll(1000), None);
    }
}
