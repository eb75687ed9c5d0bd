//! Bounded latency recording for long runs: one set of histograms per worker thread.
//!
//! A connection task records into its thread's histograms (an uncontended lock, no allocation),
//! so memory is a few hundred KB per thread and per kind however many deliveries a soak makes;
//! [`Recorder::merged`] adds them up once at the end. Owns nothing but the histograms: what a
//! kind means is the caller's business.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;

use crate::stats::new_histogram;

type Set = Arc<Mutex<Vec<Histogram<u64>>>>;

/// Per-thread latency histograms of `kinds` kinds, created on first use in each thread.
pub struct Recorder {
    kinds: usize,
    threads: Mutex<Vec<Set>>,
}

thread_local! {
    /// This thread's set, with the address of the recorder it belongs to.
    static LOCAL: RefCell<Option<(usize, Set)>> = const { RefCell::new(None) };
}

impl Recorder {
    pub fn new(kinds: usize) -> Arc<Recorder> {
        Arc::new(Recorder {
            kinds,
            threads: Mutex::new(Vec::new()),
        })
    }

    /// Records `us` microseconds under `kind`.
    pub fn record(&self, kind: usize, us: u64) {
        let me = self as *const Recorder as usize;
        LOCAL.with(|l| {
            let mut l = l.borrow_mut();
            if !matches!(l.as_ref(), Some((owner, _)) if *owner == me) {
                let set: Set = Arc::new(Mutex::new(
                    (0..self.kinds).map(|_| new_histogram()).collect(),
                ));
                self.threads
                    .lock()
                    .expect("recorder lock")
                    .push(set.clone());
                *l = Some((me, set));
            }
            let (_, set) = l.as_ref().expect("just set");
            let mut h = set.lock().expect("histogram lock");
            let high = h[kind].high();
            let _ = h[kind].record(us.clamp(1, high));
        })
    }

    /// The histograms of every thread added up, one per kind.
    pub fn merged(&self) -> Vec<Histogram<u64>> {
        let mut out: Vec<Histogram<u64>> = (0..self.kinds).map(|_| new_histogram()).collect();
        for set in self.threads.lock().expect("recorder lock").iter() {
            for (o, h) in out
                .iter_mut()
                .zip(set.lock().expect("histogram lock").iter())
            {
                let _ = o.add(h);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_threads() {
        let r = Recorder::new(2);
        r.record(0, 100);
        r.record(1, 5);
        let r2 = r.clone();
        std::thread::spawn(move || r2.record(0, 300))
            .join()
            .unwrap();
        let m = r.merged();
        assert_eq!((m[0].len(), m[0].max(), m[1].len()), (2, 300, 1));
    }
}
