//! The delivery loop's doorbell: whoever makes a delivery due sooner than the loop's next read
//! of the store (recording a published event, an attempt scheduling its retry or wait) rings it
//! with that due time, and the loop reads the store by then instead of polling it.
//!
//! One per control core, in a thread-local, because the writers (the request loop, notification
//! delivery, attempt tasks) share nothing else with the delivery loop; all run on that one
//! runtime.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::task::{Poll, Waker};
use std::time::Duration;

struct Bell {
    /// The earliest due time rung since the loop last took it; `i64::MAX` when none.
    at: Cell<i64>,
    waker: RefCell<Option<Waker>>,
}

thread_local! {
    static BELL: Bell = const {
        Bell {
            at: Cell::new(i64::MAX),
            waker: RefCell::new(None),
        }
    };
}

/// A delivery falls due at `at_ms`: the loop reads the store by then.
pub(super) fn ring(at_ms: i64) {
    BELL.with(|b| {
        if at_ms < b.at.get() {
            b.at.set(at_ms);
            if let Some(w) = b.waker.borrow_mut().take() {
                w.wake();
            }
        }
    });
}

/// The earliest due time rung since the last call (`i64::MAX` when none), and resets it.
pub(super) fn take() -> i64 {
    BELL.with(|b| b.at.replace(i64::MAX))
}

/// Sleeps for `wait`, or less when the bell rings.
pub(super) async fn sleep(wait: Duration) {
    let rung = poll_fn(|cx| {
        BELL.with(|b| {
            if b.at.get() != i64::MAX {
                return Poll::Ready(());
            }
            *b.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
    });
    let _ = monoio::time::timeout(wait, rung).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_ends_the_sleep_and_keeps_the_earliest_time() {
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        rt.block_on(async {
            assert_eq!(take(), i64::MAX);
            let started = std::time::Instant::now();
            let ringer = monoio::spawn(async {
                monoio::time::sleep(Duration::from_millis(20)).await;
                ring(500);
                ring(900);
            });
            sleep(Duration::from_secs(5)).await;
            assert!(started.elapsed() < Duration::from_secs(2), "woken early");
            ringer.await;
            assert_eq!(take(), 500);
            assert_eq!(take(), i64::MAX, "taken once");
        });
    }
}
