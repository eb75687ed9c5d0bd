//! The latency of a long run cut into equal slices of time, so that one run can be compared
//! with itself: phases with and without some other load on the server, over the same
//! connections.
//!
//! A phase per process (a fresh generator and fresh connections each time) moves the p99 by
//! 20-50% with nothing changed on the server: where the connections land on the server's cores
//! and how the generator's own thread is scheduled differ from one process to the next. Slices
//! of one run keep all of that fixed. Each slice holds the events *sent* within it (by their
//! due time) and carries wall-clock bounds, so that whoever drove the other load can tell which
//! slices it covered.

use std::time::Duration;

use serde::Serialize;

use crate::client::ConnOutcome;
use crate::publisher::SentEvent;
use crate::stats::{new_histogram, Percentiles};

/// One slice of the measured publish window.
#[derive(Clone, Debug, Serialize)]
pub struct Slice {
    /// Wall-clock bounds of the slice, milliseconds since the Unix epoch.
    pub from_unix_ms: u64,
    pub to_unix_ms: u64,
    /// Per delivery, of the events sent within the slice.
    pub latency_us: Percentiles,
    /// Per event, to its last subscriber.
    pub last_subscriber_us: Percentiles,
}

/// Cuts the events due from `from_ns` on into slices of `width` and gives each slice the
/// percentiles of its events' deliveries. `t0_unix_ms` is the wall clock at the generator's
/// start (the origin of `due_ns`). An event every subscriber missed only counts as lost, as in
/// the run's totals.
pub fn slices(
    sent: &[SentEvent],
    outcomes: &[ConnOutcome],
    from_ns: u64,
    width: Duration,
    t0_unix_ms: u64,
) -> Vec<Slice> {
    let width_ns = width.as_nanos().max(1) as u64;
    let slice_of = |e: &SentEvent| {
        (e.ok && e.due_ns >= from_ns).then(|| ((e.due_ns - from_ns) / width_ns) as usize)
    };
    let Some(count) = sent.iter().filter_map(slice_of).max().map(|m| m + 1) else {
        return Vec::new();
    };
    // Sequence numbers are dense from 0: index by them.
    let seqs = sent.iter().map(|e| e.seq as usize + 1).max().unwrap_or(0);
    let mut slice_by_seq: Vec<Option<usize>> = vec![None; seqs];
    for e in sent {
        slice_by_seq[e.seq as usize] = slice_of(e);
    }
    let mut per_delivery = vec![new_histogram(); count];
    let mut last: Vec<Option<u32>> = vec![None; seqs];
    for o in outcomes.iter().filter(|o| o.setup_error.is_none()) {
        for d in &o.log {
            let seq = d.seq as usize;
            if let Some(Some(s)) = slice_by_seq.get(seq) {
                let _ = per_delivery[*s].record(u64::from(d.lat_us).max(1));
                last[seq] = Some(last[seq].map_or(d.lat_us, |l| l.max(d.lat_us)));
            }
        }
    }
    let mut per_event = vec![new_histogram(); count];
    for (seq, lat) in last.iter().enumerate() {
        if let (Some(lat), Some(s)) = (lat, slice_by_seq[seq]) {
            let _ = per_event[s].record(u64::from(*lat).max(1));
        }
    }
    let ms = |ns: u64| t0_unix_ms + ns / 1_000_000;
    (0..count)
        .map(|i| Slice {
            from_unix_ms: ms(from_ns + i as u64 * width_ns),
            to_unix_ms: ms(from_ns + (i as u64 + 1) * width_ns),
            latency_us: Percentiles::of(&per_delivery[i]),
            last_subscriber_us: Percentiles::of(&per_event[i]),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Delivery;

    #[test]
    fn events_fall_in_the_slice_of_their_due_time() {
        let ev = |seq, due_ms: u64| SentEvent {
            seq,
            channel: 0,
            due_ns: due_ms * 1_000_000,
            ok: true,
        };
        // Warmup event 0 at 500 ms; from 1 s on, slices of 1 s: events 1, 2 in the first,
        // event 3 in the third (the second is empty).
        let sent = [ev(0, 500), ev(1, 1_000), ev(2, 1_999), ev(3, 3_100)];
        let log = |lats: &[(u32, u32)]| ConnOutcome {
            log: lats
                .iter()
                .map(|&(seq, lat_us)| Delivery { seq, lat_us })
                .collect(),
            ..ConnOutcome::default()
        };
        let outcomes = [
            log(&[(0, 9), (1, 10), (2, 30), (3, 70)]),
            log(&[(1, 20), (2, 40), (3, 80)]),
        ];
        let s = slices(
            &sent,
            &outcomes,
            1_000_000_000,
            Duration::from_secs(1),
            5_000,
        );
        assert_eq!(s.len(), 3);
        assert_eq!((s[0].from_unix_ms, s[0].to_unix_ms), (6_000, 7_000));
        assert_eq!((s[0].latency_us.count, s[0].latency_us.max), (4, 40));
        assert_eq!(s[0].last_subscriber_us.count, 2);
        assert_eq!(s[0].last_subscriber_us.p50, 20);
        assert_eq!(s[1].latency_us.count, 0);
        assert_eq!(
            (s[2].latency_us.count, s[2].last_subscriber_us.max),
            (2, 80)
        );
    }
}
