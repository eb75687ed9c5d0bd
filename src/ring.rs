//! Cross-core rings: one bounded SPSC queue per (source, destination) pair, one doorbell per
//! destination.
//!
//! This is the only way shards talk to each other. A producer never blocks: when a ring is full
//! the message waits in the producer's local overflow queue (counted) and is retried on the next
//! flush. A consumer sleeps on its doorbell; the Dekker handshake between `armed` and the ring
//! indices (a SeqCst fence on both sides) guarantees that a push made while the consumer decides
//! to sleep is never missed. No lock is taken anywhere on this path.
//!
//! The handshake is model-checked with loom (see the `loom` test module):
//! `ring_loom.rs` says how to run it (`scripts/test` does).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rtrb::{Consumer, Producer, RingBuffer};

use sync::{fence, AtomicBool, AtomicWaker, Ordering};

/// The doorbell's atomics and waker: std's and atomic-waker's, or loom's models under
/// `--cfg loom` so the handshake can be model-checked. Nothing else differs between the two.
#[cfg(not(loom))]
mod sync {
    pub use atomic_waker::AtomicWaker;
    pub use std::sync::atomic::{fence, AtomicBool, Ordering};
}

#[cfg(loom)]
mod sync {
    pub use ::loom::sync::atomic::{fence, Ordering};

    /// loom's `AtomicBool`, with `store` done as a `swap` whose result is dropped.
    ///
    /// loom 0.7 does not order a store after an RMW that it could not have preceded (its
    /// modification order lacks RMW atomicity), so a plain store would let the model read a
    /// producer's stale `swap(false)` past a fence that forbids it, and report a lost wake-up
    /// that Rust's memory model rules out. Only the consumer stores `armed` and it never loads
    /// it, so a swap of the same ordering allows exactly what the store allows.
    #[derive(Default)]
    pub struct AtomicBool(::loom::sync::atomic::AtomicBool);

    impl AtomicBool {
        pub fn load(&self, order: Ordering) -> bool {
            self.0.load(order)
        }

        pub fn store(&self, value: bool, order: Ordering) {
            self.0.swap(value, order);
        }

        pub fn swap(&self, value: bool, order: Ordering) -> bool {
            self.0.swap(value, order)
        }
    }

    /// loom's `AtomicWaker` behind atomic-waker's signatures.
    #[derive(Default)]
    pub struct AtomicWaker(::loom::future::AtomicWaker);

    impl AtomicWaker {
        pub fn register(&self, waker: &std::task::Waker) {
            self.0.register_by_ref(waker);
        }

        pub fn wake(&self) {
            self.0.wake();
        }
    }
}

/// Most cores a mesh may span: sets of cores (interest, "every other core") are `u64` masks.
pub const MAX_CORES: usize = 64;

/// Slots per ring. A full ring means the destination is far behind; messages then wait in the
/// producer's overflow queue rather than blocking it.
pub const RING_CAPACITY: usize = 4096;

/// Wakes one destination core's drain task when any of its incoming rings gets a message.
#[derive(Default)]
pub struct Doorbell {
    waker: AtomicWaker,
    /// True while the consumer is (about to be) asleep and wants a wake-up.
    armed: AtomicBool,
}

impl Doorbell {
    /// Called by a producer after pushing: wakes the consumer if it is asleep.
    pub fn ring(&self) {
        // Pairs with the fence in `Wait::poll`: either we see `armed`, or the consumer sees our
        // push when it re-checks the rings after arming.
        fence(Ordering::SeqCst);
        if self.armed.load(Ordering::Relaxed) && self.armed.swap(false, Ordering::AcqRel) {
            self.waker.wake();
        }
    }
}

/// Resolves when the doorbell rings or when `has_work` reports pending messages.
struct Wait<'a, F: Fn() -> bool> {
    bell: &'a Doorbell,
    has_work: F,
}

impl<F: Fn() -> bool> Future for Wait<'_, F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.bell.waker.register(cx.waker());
        self.bell.armed.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if (self.has_work)() {
            self.bell.armed.store(false, Ordering::Relaxed);
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

/// Counters of one endpoint's outgoing traffic, read by health and metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RingStats {
    /// Messages pushed straight into a ring.
    pub sent: u64,
    /// Messages that found their ring full and waited in the overflow queue.
    pub overflowed: u64,
}

/// One core's view of the mesh: producers to every other core, consumers from every other core.
pub struct Endpoint<T> {
    index: usize,
    outgoing: Vec<Option<Producer<T>>>,
    incoming: Vec<Consumer<T>>,
    overflow: Vec<VecDeque<T>>,
    bells: Arc<[Doorbell]>,
    stats: RingStats,
    /// The incoming ring the next `drain` starts at.
    next_ring: usize,
}

/// Builds the full mesh for `cores` cores: `cores * (cores - 1)` rings and `cores` doorbells.
pub fn mesh<T>(cores: usize) -> Vec<Endpoint<T>> {
    assert!(
        (1..=MAX_CORES).contains(&cores),
        "a mesh spans 1 to {MAX_CORES} cores, not {cores}"
    );
    build(cores, |src, dst| src != dst)
}

/// Builds a star: `spokes` endpoints that each talk only to one hub, the last endpoint, over
/// `2 * spokes` rings (the control core and its shards; the spokes already share a mesh, so
/// rings between them would only hold memory). Core sets ([`Endpoint::others`]) are not
/// meaningful on a star, so it may span `MAX_CORES` spokes plus the hub.
pub fn star<T>(spokes: usize) -> Vec<Endpoint<T>> {
    assert!(
        (1..=MAX_CORES).contains(&spokes),
        "a star has 1 to {MAX_CORES} spokes, not {spokes}"
    );
    build(spokes + 1, |src, dst| {
        src != dst && (src == spokes || dst == spokes)
    })
}

/// `cores` endpoints with one ring for each `(src, dst)` that `linked` allows.
fn build<T>(cores: usize, linked: impl Fn(usize, usize) -> bool) -> Vec<Endpoint<T>> {
    let bells: Arc<[Doorbell]> = (0..cores).map(|_| Doorbell::default()).collect();
    let mut endpoints: Vec<Endpoint<T>> = (0..cores)
        .map(|index| Endpoint {
            index,
            outgoing: (0..cores).map(|_| None).collect(),
            incoming: Vec::new(),
            overflow: (0..cores).map(|_| VecDeque::new()).collect(),
            bells: bells.clone(),
            stats: RingStats::default(),
            next_ring: 0,
        })
        .collect();
    for src in 0..cores {
        for dst in (0..cores).filter(|&dst| linked(src, dst)) {
            let (producer, consumer) = RingBuffer::new(RING_CAPACITY);
            endpoints[src].outgoing[dst] = Some(producer);
            endpoints[dst].incoming.push(consumer);
        }
    }
    endpoints
}

impl<T> Endpoint<T> {
    /// This endpoint's core index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// How many cores the mesh spans.
    pub fn cores(&self) -> usize {
        self.outgoing.len()
    }

    /// Every other core of the mesh, as a core set (bit `c` for core `c`).
    pub fn others(&self) -> u64 {
        // A shift by 64 overflows, so the full set is built from the top down.
        let all = u64::MAX >> (MAX_CORES - self.cores());
        all & !(1 << self.index)
    }

    /// Outgoing counters.
    pub fn stats(&self) -> RingStats {
        self.stats
    }

    /// Queues `msg` for core `dst` and rings its doorbell. Never blocks: a full ring parks the
    /// message in the overflow queue, which keeps order with later messages to `dst`.
    pub fn send(&mut self, dst: usize, msg: T) {
        let Some(Some(producer)) = self.outgoing.get_mut(dst) else {
            debug_assert!(false, "send to self or to an unknown core {dst}");
            return;
        };
        if self.overflow[dst].is_empty() {
            match producer.push(msg) {
                Ok(()) => {
                    self.stats.sent += 1;
                    self.bells[dst].ring();
                    return;
                }
                Err(rtrb::PushError::Full(msg)) => self.overflow[dst].push_back(msg),
            }
        } else {
            self.overflow[dst].push_back(msg);
        }
        self.stats.overflowed += 1;
    }

    /// Moves what it can from the overflow queues into the rings. Returns true while any
    /// message is still waiting.
    pub fn flush_overflow(&mut self) -> bool {
        let mut waiting = false;
        for (dst, queue) in self.overflow.iter_mut().enumerate() {
            let Some(producer) = self.outgoing[dst].as_mut() else {
                continue;
            };
            let mut pushed = false;
            while let Some(msg) = queue.pop_front() {
                match producer.push(msg) {
                    Ok(()) => pushed = true,
                    Err(rtrb::PushError::Full(msg)) => {
                        queue.push_front(msg);
                        break;
                    }
                }
            }
            if pushed {
                self.bells[dst].ring();
            }
            waiting |= !queue.is_empty();
        }
        waiting
    }

    /// Messages waiting in this core's overflow queues.
    pub fn overflow_len(&self) -> usize {
        self.overflow.iter().map(VecDeque::len).sum()
    }

    /// True when any incoming ring holds a message.
    pub fn has_incoming(&self) -> bool {
        self.incoming.iter().any(|c| !c.is_empty())
    }

    /// How many messages each incoming ring holds now.
    fn backlog(&self) -> Vec<usize> {
        self.incoming.iter().map(Consumer::slots).collect()
    }

    /// Pops up to `max` messages from the incoming rings (round robin by ring, in batches) and
    /// hands each to `handle`. Returns how many were handled.
    ///
    /// Each call starts at the ring after the last one it took from, so a producer that keeps its
    /// ring full cannot hold the budget of every call: with 3 or more cores the others would
    /// starve behind it.
    pub fn drain(&mut self, max: usize, handle: impl FnMut(T)) -> usize {
        self.drain_limited(max, None, handle)
    }

    /// `drain`, taking at most `limits[i]` messages from ring `i` and lowering the limits by what
    /// it took (see [`catch_up`]).
    fn drain_limited(
        &mut self,
        max: usize,
        mut limits: Option<&mut [usize]>,
        mut handle: impl FnMut(T),
    ) -> usize {
        let rings = self.incoming.len();
        let start = self.next_ring;
        let mut handled = 0;
        for i in (start..rings).chain(0..start) {
            let limit = limits.as_deref().map_or(usize::MAX, |l| l[i]);
            let take = self.incoming[i].slots().min(max - handled).min(limit);
            if take == 0 {
                continue;
            }
            if let Ok(chunk) = self.incoming[i].read_chunk(take) {
                for msg in chunk {
                    handle(msg);
                }
                handled += take;
                if let Some(l) = limits.as_deref_mut() {
                    l[i] -= take;
                }
                self.next_ring = (i + 1) % rings;
            }
            if handled == max {
                break;
            }
        }
        handled
    }

    /// A handle to this core's doorbell, to sleep on without borrowing the endpoint.
    pub fn bell(&self) -> BellHandle {
        BellHandle {
            bells: self.bells.clone(),
            index: self.index,
        }
    }
}

/// Handles the messages that are in `ring`'s incoming rings when it is called, `batch` at a
/// time, releasing the borrow while `handle` runs (a handler may send). Returns how many it
/// handled.
///
/// Bounded by that backlog (at most `RING_CAPACITY` per ring), not by the rings running empty:
/// under a steady producer they never do, and the caller (a client's request) would hold its
/// core. What arrives later is the drain task's, which yields between batches.
pub fn catch_up<T>(ring: &RefCell<Endpoint<T>>, batch: usize, mut handle: impl FnMut(T)) -> usize {
    let mut backlog = ring.borrow().backlog();
    let mut handled = 0;
    loop {
        let mut taken = Vec::with_capacity(batch);
        ring.borrow_mut()
            .drain_limited(batch, Some(&mut backlog), |m| taken.push(m));
        if taken.is_empty() {
            return handled;
        }
        handled += taken.len();
        taken.into_iter().for_each(&mut handle);
    }
}

/// This core's doorbell, detached from the endpoint so a task can await it while other tasks
/// use the endpoint.
#[derive(Clone)]
pub struct BellHandle {
    bells: Arc<[Doorbell]>,
    index: usize,
}

impl BellHandle {
    /// Wakes this core's own drain task (after queuing work for it locally).
    pub fn ring(&self) {
        self.bells[self.index].ring();
    }

    /// Sleeps until a producer rings or `has_work` is already true.
    pub fn wait<'a, F: Fn() -> bool + 'a>(&'a self, has_work: F) -> impl Future<Output = ()> + 'a {
        Wait {
            bell: &self.bells[self.index],
            has_work,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn messages_cross_in_order() {
        let mut eps = mesh::<u32>(3);
        let mut rest = eps.split_off(1);
        for i in 0..10 {
            eps[0].send(2, i);
        }
        let mut got = Vec::new();
        rest[1].drain(usize::MAX, |m| got.push(m));
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        assert!(!rest[0].has_incoming());
    }

    #[test]
    fn a_star_links_each_spoke_to_the_hub_only() {
        let mut eps = star::<usize>(MAX_CORES);
        let mut hub = eps.pop().unwrap();
        assert_eq!((hub.index(), hub.incoming.len()), (MAX_CORES, MAX_CORES));
        for (i, spoke) in eps.iter_mut().enumerate() {
            assert_eq!(spoke.incoming.len(), 1);
            assert!(spoke.outgoing[(i + 1) % MAX_CORES].is_none());
            spoke.send(MAX_CORES, i);
        }
        let mut got = Vec::new();
        hub.drain(usize::MAX, |m| got.push(m));
        got.sort_unstable();
        assert_eq!(got, (0..MAX_CORES).collect::<Vec<_>>());
        hub.send(3, 7);
        let mut back = Vec::new();
        eps[3].drain(usize::MAX, |m| back.push(m));
        assert_eq!(back, [7]);
    }

    #[test]
    fn full_ring_overflows_and_keeps_order() {
        let mut eps = mesh::<usize>(2);
        let total = RING_CAPACITY + 100;
        for i in 0..total {
            eps[0].send(1, i);
        }
        assert_eq!(eps[0].stats().overflowed, 100);
        assert!(eps[0].flush_overflow(), "ring still full, nothing moved");
        let mut got = Vec::new();
        eps[1].drain(usize::MAX, |m| got.push(m));
        assert!(!eps[0].flush_overflow());
        eps[1].drain(usize::MAX, |m| got.push(m));
        assert_eq!(got, (0..total).collect::<Vec<_>>());
    }

    /// Four producers into one consumer (a mesh of 5): producer 0 keeps its ring full while the
    /// others send a few messages each. Every producer's messages must get through within a
    /// handful of bounded drains, not wait until producer 0 stops.
    #[test]
    fn drain_rotates_so_a_busy_producer_starves_no_one() {
        let mut eps = mesh::<(usize, usize)>(5);
        let mut consumer = eps.pop().unwrap();
        let mut sent = [0usize; 4];
        let mut got = [0usize; 4];
        for round in 0..64 {
            // The busy producer tops its ring up before every drain.
            while eps[0].outgoing[4].as_ref().is_some_and(|p| p.slots() > 0) {
                eps[0].send(4, (0, sent[0]));
                sent[0] += 1;
            }
            if round < 8 {
                for src in 1..4 {
                    eps[src].send(4, (src, sent[src]));
                    sent[src] += 1;
                }
            }
            consumer.drain(16, |(src, seq)| {
                assert_eq!(seq, got[src], "messages from core {src} out of order");
                got[src] += 1;
            });
        }
        for src in 1..4 {
            assert_eq!(got[src], sent[src], "core {src} starved by core 0");
        }
        assert!(got[0] > 0);
    }

    /// A producer that sends a new message for every one handled never lets the rings empty;
    /// catching up must still return, after the messages that were there when it began.
    #[test]
    fn catch_up_returns_under_a_continuous_producer() {
        let mut eps = mesh::<(usize, usize)>(3);
        let consumer = RefCell::new(eps.pop().unwrap());
        for i in 0..10 {
            eps[0].send(2, (0, i));
            eps[1].send(2, (1, i));
        }
        let mut seen = Vec::new();
        let handled = catch_up(&consumer, 4, |(src, n)| {
            assert!(seen.len() < 10_000, "catch_up never returned");
            seen.push((src, n));
            eps[src].send(2, (src, n + 1000));
        });
        assert_eq!(handled, 20);
        seen.sort_unstable();
        let before: Vec<_> = (0..2).flat_map(|s| (0..10).map(move |i| (s, i))).collect();
        assert_eq!(seen, before, "exactly the messages present at the call");
        assert!(
            consumer.borrow().has_incoming(),
            "newer messages wait for the drain task"
        );
    }

    /// Core sets are `u64` masks; the largest mesh the configuration allows fills all 64 bits.
    #[test]
    fn others_covers_every_core_up_to_the_largest_mesh() {
        let eps = mesh::<u8>(MAX_CORES);
        assert_eq!(eps[0].others(), u64::MAX - 1);
        assert_eq!(eps[63].others(), u64::MAX >> 1);
        let small = mesh::<u8>(3);
        assert_eq!(small[1].others(), 0b101);
        assert_eq!(mesh::<u8>(1)[0].others(), 0);
    }

    #[test]
    fn doorbell_wakes_a_sleeping_consumer_on_another_thread() {
        let mut eps = mesh::<u64>(2);
        let mut consumer = eps.pop().unwrap();
        let mut producer = eps.pop().unwrap();
        let bell = consumer.bell();
        let t = std::thread::spawn(move || {
            for i in 0..1000 {
                producer.send(1, i);
            }
        });
        let mut got = Vec::new();
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()
            .unwrap();
        rt.block_on(async {
            while got.len() < 1000 {
                bell.wait(|| consumer.has_incoming()).await;
                consumer.drain(64, |m| got.push(m));
            }
        });
        t.join().unwrap();
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
    }
}

/// The doorbell handshake, model-checked with loom (see that file for what it proves).
#[cfg(all(test, loom))]
#[path = "ring_loom.rs"]
mod loom;
