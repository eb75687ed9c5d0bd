//! Cross-core ring microbenches: one message through `ring::mesh` endpoints on one thread
//! (push + doorbell + pop: the per-message cost), and a producer thread streaming into a
//! consumer that drains in batches (throughput, including the overflow queue when it fills).
//!
//! Messages are `u64`; the real ones are a few words too. On a 2-core machine the two-thread
//! bench shares cores with everything else running. Run with `cargo bench --bench ring`.

use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use ringcast::ring::{mesh, Endpoint};

fn main() {
    divan::main();
}

/// `send` (push + ring the doorbell) then `drain` of that one message, same thread.
#[divan::bench]
fn push_pop_one(bencher: Bencher) {
    let mut eps = mesh::<u64>(2);
    let (a, b) = eps.split_at_mut(1);
    let (producer, consumer) = (&mut a[0], &mut b[0]);
    let mut got = 0u64;
    bencher.bench_local(|| {
        producer.send(1, black_box(7));
        consumer.drain(1, |m| got = got.wrapping_add(m));
    });
    black_box(got);
}

/// 64 sends, then one drain of the whole batch, same thread: the batched per-message cost.
#[divan::bench]
fn push_pop_batch_64(bencher: Bencher) {
    let mut eps = mesh::<u64>(2);
    let (a, b) = eps.split_at_mut(1);
    let (producer, consumer) = (&mut a[0], &mut b[0]);
    let mut got = 0u64;
    bencher.counter(ItemsCount::new(64usize)).bench_local(|| {
        for i in 0..64 {
            producer.send(1, black_box(i));
        }
        consumer.drain(64, |m| got = got.wrapping_add(m));
    });
    black_box(got);
}

const STREAM: u64 = 200_000;

/// A producer thread sends `STREAM` messages (flushing its overflow when the ring is full);
/// this thread drains them in batches of 64. Counted per message.
#[divan::bench(sample_count = 20, sample_size = 1)]
fn two_threads_stream(bencher: Bencher) {
    let mut eps = mesh::<u64>(2);
    let mut consumer = eps.pop();
    let mut producer = eps.pop();
    bencher.counter(ItemsCount::new(STREAM)).bench_local(|| {
        let (Some(mut tx), Some(rx)) = (producer.take(), consumer.as_mut()) else {
            return;
        };
        let sender = std::thread::spawn(move || {
            for i in 0..STREAM {
                tx.send(1, i);
                if i % 64 == 63 {
                    tx.flush_overflow();
                }
            }
            while tx.flush_overflow() {
                std::hint::spin_loop();
            }
            tx
        });
        drain_all(rx, STREAM);
        producer = sender.join().ok();
    });
}

fn drain_all(rx: &mut Endpoint<u64>, total: u64) {
    let mut seen = 0u64;
    let mut sum = 0u64;
    while seen < total {
        let n = rx.drain(64, |m| sum = sum.wrapping_add(m));
        if n == 0 {
            // Yield rather than spin: on 2 cores the producer may share ours.
            std::thread::yield_now();
        }
        seen += n as u64;
    }
    black_box(sum);
}
