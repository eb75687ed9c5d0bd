//! The soak's delivery accounting: which (connection, event) deliveries were expected, which
//! may or may not arrive, and what counts as lost or duplicated.
//!
//! A subscription's life is a [`Window`]: subscribe sent, `subscription_succeeded` received,
//! unsubscribe sent (or the socket closed). A delivery is *expected* exactly when the event's
//! publish started after the confirmation and its publish was answered before the unsubscribe
//! was sent. Every other event — published while a subscribe was pending, around an unsubscribe,
//! during a reconnect, or whose publish failed — *may* arrive, once or (after a resubscribe) twice,
//! and is never counted as lost or duplicated. Pure arithmetic over logs: no I/O, no clock.

use serde::Serialize;

use crate::ranges::RangeSet;

/// One publish of a channel, indexed by the channel's own sequence number. A channel is always
/// published by one publisher, one request at a time, so `start` and `ack` grow with the seq.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PubRec {
    /// Just before the request was written (ns since the generator's start).
    pub start: u64,
    /// When the answer was read.
    pub ack: u64,
    /// The answer was 2xx.
    pub ok: bool,
}

/// Not confirmed yet / still subscribed.
pub const OPEN: u64 = u64::MAX;

/// One subscription of one connection to one channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub sub_sent: u64,
    /// `subscription_succeeded` received; [`OPEN`] while pending.
    pub confirmed: u64,
    /// Unsubscribe sent or socket closed; [`OPEN`] while subscribed.
    pub end: u64,
}

impl Window {
    pub fn new(sub_sent: u64) -> Window {
        Window {
            sub_sent,
            confirmed: OPEN,
            end: OPEN,
        }
    }

    /// Whether event `e` must reach a subscriber with this window.
    pub fn expects(&self, e: &PubRec) -> bool {
        e.ok && self.confirmed != OPEN && e.start > self.confirmed && e.ack < self.end
    }
}

/// Duplicates remembered per subscription slot before only counting.
const MAX_DUP_SEQS: usize = 64;

/// What one connection saw on one channel over the run.
#[derive(Debug, Default)]
pub struct SlotLog {
    pub windows: Vec<Window>,
    /// First receipts, by the channel's seq.
    pub got: RangeSet,
    /// Seqs received again (classified at the end), up to [`MAX_DUP_SEQS`].
    pub dups: Vec<u32>,
    /// Repeats beyond that, counted as duplicates.
    pub dups_over: u64,
}

impl SlotLog {
    /// Records a receipt of `seq`; returns true on the first.
    pub fn receive(&mut self, seq: u32) -> bool {
        if self.got.insert(seq) {
            return true;
        }
        if self.dups.len() < MAX_DUP_SEQS {
            self.dups.push(seq);
        } else {
            self.dups_over += 1;
        }
        false
    }

    /// Opens a new window: a subscribe was just sent.
    pub fn subscribing(&mut self, now: u64) {
        self.windows.push(Window::new(now));
    }

    /// The pending subscribe was confirmed.
    pub fn confirmed(&mut self, now: u64) {
        if let Some(w) = self.windows.last_mut() {
            if w.confirmed == OPEN {
                w.confirmed = now;
            }
        }
    }

    /// Unsubscribe sent or socket closed.
    pub fn ended(&mut self, now: u64) {
        if let Some(w) = self.windows.last_mut() {
            if w.end == OPEN {
                w.end = now;
            }
        }
    }
}

/// Counts of one traffic kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub expected: u64,
    /// Expected and received.
    pub received: u64,
    pub lost: u64,
    /// Expected deliveries received more than once.
    pub duplicated: u64,
    /// Received though not expected (subscribe pending, unsubscribe or reconnect gap).
    pub maybe_received: u64,
    /// Repeats of not-expected deliveries (a resubscribe around an event in flight).
    pub maybe_duplicated: u64,
    /// Received but never published (should be 0).
    pub unexpected: u64,
}

impl Tally {
    pub fn add(&mut self, o: &Tally) {
        self.expected += o.expected;
        self.received += o.received;
        self.lost += o.lost;
        self.duplicated += o.duplicated;
        self.maybe_received += o.maybe_received;
        self.maybe_duplicated += o.maybe_duplicated;
        self.unexpected += o.unexpected;
    }
}

fn expected_by(windows: &[Window], e: &PubRec) -> bool {
    windows.iter().any(|w| w.expects(e))
}

/// Accounts one connection's slot against its channel's publish log; returns the first few
/// lost seqs with the window that expected them (for the report's errors).
pub fn account(events: &[PubRec], slot: &SlotLog, t: &mut Tally) -> Vec<(u32, Window)> {
    let mut lost = Vec::new();
    let mut received = 0;
    for w in slot.windows.iter().filter(|w| w.confirmed != OPEN) {
        let lo = events.partition_point(|e| e.start <= w.confirmed);
        for (seq, e) in events.iter().enumerate().skip(lo) {
            if e.start >= w.end {
                break;
            }
            if w.expects(e) {
                t.expected += 1;
                if slot.got.contains(seq as u32) {
                    received += 1;
                } else {
                    t.lost += 1;
                    if lost.len() < 4 {
                        lost.push((seq as u32, *w));
                    }
                }
            }
        }
    }
    t.received += received;
    let published = slot
        .got
        .count_in(0, events.len().min(u32::MAX as usize) as u32);
    t.unexpected += slot.got.len() - published;
    t.maybe_received += published - received;
    for &d in &slot.dups {
        match events.get(d as usize) {
            Some(e) if expected_by(&slot.windows, e) => t.duplicated += 1,
            Some(_) => t.maybe_duplicated += 1,
            None => t.unexpected += 1,
        }
    }
    t.duplicated += slot.dups_over;
    lost
}

/// Accounts client events between the two stable members of a pair: every one sent is expected.
pub fn account_pair(sent: u32, got: &RangeSet, dups: u64, t: &mut Tally) {
    let received = got.count_in(0, sent);
    t.expected += u64::from(sent);
    t.received += received;
    t.lost += u64::from(sent) - received;
    t.unexpected += got.len() - received;
    t.duplicated += dups;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events published every 10 ns, each answered 5 ns after it started.
    fn events(n: u64) -> Vec<PubRec> {
        (0..n)
            .map(|i| PubRec {
                start: i * 10,
                ack: i * 10 + 5,
                ok: true,
            })
            .collect()
    }

    fn slot(windows: &[(u64, u64, u64)], got: &[u32]) -> SlotLog {
        let mut s = SlotLog {
            windows: windows
                .iter()
                .map(|&(sub_sent, confirmed, end)| Window {
                    sub_sent,
                    confirmed,
                    end,
                })
                .collect(),
            ..SlotLog::default()
        };
        for &g in got {
            s.receive(g);
        }
        s
    }

    #[test]
    fn expected_only_between_confirmation_and_unsubscribe() {
        let ev = events(10); // starts 0,10,..,90
                             // Confirmed at 15: events 2.. are expected; unsubscribe sent at 56: event 5 (ack 55)
                             // still expected, event 6 not. Resubscribed at 70, confirmed at 72: 8 and 9 expected.
        let s = slot(&[(12, 15, 56), (70, 72, OPEN)], &[2, 3, 4, 5, 8, 9]);
        let mut t = Tally::default();
        account(&ev, &s, &mut t);
        assert_eq!((t.expected, t.received, t.lost), (6, 6, 0));
        assert_eq!((t.maybe_received, t.duplicated, t.unexpected), (0, 0, 0));
    }

    #[test]
    fn gap_deliveries_are_maybe_and_never_lost_or_duplicated() {
        let ev = events(10);
        // Event 1 starts at 10, before the confirmation at 15: maybe. Events 6 and 7 fall into
        // the gap between unsubscribe (56) and the next confirmation (72): maybe, even twice.
        let mut s = slot(&[(8, 15, 56), (70, 72, OPEN)], &[1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert!(!s.receive(7));
        let mut t = Tally::default();
        account(&ev, &s, &mut t);
        assert_eq!((t.expected, t.received, t.lost), (6, 6, 0));
        assert_eq!(
            (t.maybe_received, t.maybe_duplicated, t.duplicated),
            (3, 1, 0)
        );
    }

    #[test]
    fn missing_or_repeated_expected_deliveries_count() {
        let ev = events(10);
        let mut s = slot(&[(0, 1, OPEN)], &[1, 2, 4, 5, 6, 7, 8, 9, 42]);
        assert!(!s.receive(4));
        let mut t = Tally::default();
        account(&ev, &s, &mut t);
        assert_eq!((t.expected, t.received, t.lost), (9, 8, 1), "event 3 lost");
        assert_eq!(
            (t.duplicated, t.unexpected),
            (1, 1),
            "4 twice; 42 never published"
        );
    }

    #[test]
    fn boundaries_and_failed_publishes() {
        let mut ev = events(4);
        ev[2].ok = false;
        // Started exactly at the confirmation: not after it. Answered exactly at the
        // unsubscribe: not before it. A failed publish is never expected.
        let w = Window {
            sub_sent: 0,
            confirmed: 10,
            end: 35,
        };
        assert!(!w.expects(&ev[1]));
        assert!(!w.expects(&ev[2]));
        let late = PubRec {
            start: 30,
            ack: 35,
            ok: true,
        };
        assert!(!w.expects(&late));
        assert!(w.expects(&PubRec { ack: 34, ..late }));
        // A pending subscription expects nothing.
        assert!(!Window::new(0).expects(&ev[3]));
    }

    #[test]
    fn open_window_and_slot_transitions() {
        let mut s = SlotLog::default();
        s.subscribing(5);
        s.confirmed(9);
        s.confirmed(11); // a repeated confirmation keeps the first
        s.ended(40);
        s.subscribing(50);
        assert_eq!(
            s.windows,
            vec![
                Window {
                    sub_sent: 5,
                    confirmed: 9,
                    end: 40
                },
                Window::new(50)
            ]
        );
    }

    #[test]
    fn pairs_expect_everything_sent() {
        let mut got = RangeSet::default();
        for v in [0, 1, 3] {
            got.insert(v);
        }
        let mut t = Tally::default();
        account_pair(4, &got, 2, &mut t);
        assert_eq!((t.expected, t.received, t.lost, t.duplicated), (4, 3, 1, 2));
    }
}
