//! Runs the case library against one echo server, many cases at a time.
//!
//! Cases are independent connections, and most of their time is spent waiting (for a close,
//! for the 1 s pauses of 5.19 and 6.4.x, for the server to drop TCP), so they run on a pool of
//! threads. Section 9 cases run after the others, on a smaller pool, and take turns for the
//! timed part (a lock in `s9_limits`), so their timings measure the server rather than
//! contention with the rest of the suite.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;

use super::case::{Case, Outcome};

/// Concurrent connections for the short cases.
const WORKERS: usize = 32;
/// Concurrent connections for section 9 (big buffers; only one is timed at a time).
const HEAVY_WORKERS: usize = 4;

/// One case's result, in the order the cases were given.
pub struct Result {
    pub id: String,
    pub description: String,
    pub expectation: String,
    pub outcome: Outcome,
}

/// Runs every case against the echo server on `port` and returns the results in case order.
pub fn run_all(cases: &[Case], port: u16) -> Vec<Result> {
    let (heavy, light): (Vec<usize>, Vec<usize>) =
        (0..cases.len()).partition(|&i| cases[i].section() == "9");
    let slots: Vec<Mutex<Option<Outcome>>> = cases.iter().map(|_| Mutex::new(None)).collect();
    run_pool(cases, &light, port, WORKERS, &slots);
    run_pool(cases, &heavy, port, HEAVY_WORKERS, &slots);
    cases
        .iter()
        .zip(slots)
        .map(|(case, slot)| Result {
            id: case.id.clone(),
            description: case.description.clone(),
            expectation: case.expectation.clone(),
            outcome: slot
                .into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .unwrap_or_else(|| Outcome::broken("case did not run".into())),
        })
        .collect()
}

fn run_pool(
    cases: &[Case],
    which: &[usize],
    port: u16,
    workers: usize,
    slots: &[Mutex<Option<Outcome>>],
) {
    let next = AtomicUsize::new(0);
    thread::scope(|scope| {
        for _ in 0..workers.min(which.len()) {
            scope.spawn(|| {
                while let Some(&i) = which.get(next.fetch_add(1, Ordering::Relaxed)) {
                    // A panicking driver is a broken case, not a broken run.
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        (cases[i].run)(port)
                    }))
                    .unwrap_or_else(|_| Outcome::broken("the case driver panicked".into()));
                    *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
                }
            });
        }
    });
}
