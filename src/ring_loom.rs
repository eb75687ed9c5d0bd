//! Model check of the doorbell handshake: a push made while the consumer decides to sleep is
//! never missed, whatever the interleaving and whatever values the Relaxed loads may read.
//!
//! Run it as `scripts/test` does: `cargo rustc --lib --profile bench --features loom-model --
//! --cfg loom` builds ringcast's unit tests optimised with `--cfg loom` for ringcast alone (the
//! dependencies keep their normal release build), then the test executable it names runs
//! `ring::loom` (~5 s of model checking).
//!
//! Removing either SeqCst fence makes all three models fail with a deadlock.
//!
//! rtrb is not loom-aware, so a ring is modelled by what the handshake reads of it: a push is
//! a Release increment of a loom counter (rtrb publishes its tail with a Release store) and
//! `has_work` is an Acquire load of it (as rtrb's `slots()` reads the tail). `Doorbell::ring`
//! and `Wait::poll` are the real ones, polled by `loom::future::block_on`; a lost wake-up
//! leaves the consumer parked with no one left to wake it, which loom reports as a deadlock.
//! Under loom the consumer's `armed.store` is a swap; `sync::AtomicBool` says why.

use super::*;
use ::loom::sync::atomic::AtomicUsize;
use ::loom::sync::Arc;
use ::loom::thread;

/// One incoming ring, reduced to the number of messages pushed into it.
#[derive(Default)]
struct Ring {
    pushed: AtomicUsize,
}

impl Ring {
    fn push(&self) {
        self.pushed.fetch_add(1, Ordering::Release);
    }
}

/// Explores every interleaving with at most 3 preemptions (`LOOM_MAX_PREEMPTIONS`
/// overrides; unbounded, the two-message models run for many minutes).
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = ::loom::model::Builder::new();
    builder.preemption_bound.get_or_insert(3);
    builder.check(f);
}

/// A producer: `n` times, push then ring, as `Endpoint::send` does.
fn produce(ring: Arc<Ring>, bell: Arc<Doorbell>, n: usize) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        for _ in 0..n {
            ring.push();
            bell.ring();
        }
    })
}

/// The drain task: sleeps on the doorbell until `total` messages have arrived.
fn consume(bell: &Doorbell, rings: &[Arc<Ring>], total: usize) {
    let arrived = || -> usize { rings.iter().map(|r| r.pushed.load(Ordering::Acquire)).sum() };
    let mut drained = 0;
    while drained < total {
        ::loom::future::block_on(Wait {
            bell,
            has_work: || arrived() > drained,
        });
        drained = arrived();
    }
}

#[test]
fn one_push_wakes_the_consumer() {
    model(|| {
        let bell = Arc::new(Doorbell::default());
        let ring = Arc::new(Ring::default());
        let producer = produce(ring.clone(), bell.clone(), 1);
        consume(&bell, &[ring], 1);
        producer.join().unwrap();
    });
}

#[test]
fn consumer_rearms_between_pushes() {
    model(|| {
        let bell = Arc::new(Doorbell::default());
        let ring = Arc::new(Ring::default());
        let producer = produce(ring.clone(), bell.clone(), 2);
        consume(&bell, &[ring], 2);
        producer.join().unwrap();
    });
}

#[test]
fn two_rings_share_one_doorbell() {
    model(|| {
        let bell = Arc::new(Doorbell::default());
        let a = Arc::new(Ring::default());
        let b = Arc::new(Ring::default());
        let pa = produce(a.clone(), bell.clone(), 1);
        let pb = produce(b.clone(), bell.clone(), 1);
        consume(&bell, &[a, b], 2);
        pa.join().unwrap();
        pb.join().unwrap();
    });
}
