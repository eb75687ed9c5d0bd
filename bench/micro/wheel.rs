//! Timing-wheel microbenches: a million notifications due within one minute (the issue's
//! target rate) inserted, then handed out by advancing in 10 ms steps as the control core's
//! tick would; and the insert-then-cancel cost. Due times are random but seeded, so runs
//! compare. Run with `cargo bench --bench wheel`.

use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use ringcast::scheduler::Wheel;

fn main() {
    divan::main();
}

const ITEMS: usize = 1_000_000;
const SPREAD_MS: u64 = 60_000;
const START_MS: u64 = 1_780_000_000_000;
const TICK_MS: u64 = 10;

fn due_times() -> Vec<u64> {
    let mut rng = fastrand::Rng::with_seed(14);
    (0..ITEMS)
        .map(|_| START_MS + 1 + rng.u64(..SPREAD_MS))
        .collect()
}

/// 1M inserts, then a minute of 10 ms advances handing every item out in order.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn insert_advance_1m(bencher: Bencher) {
    let dues = due_times();
    bencher
        .counter(ItemsCount::new(ITEMS))
        .with_inputs(|| Wheel::<u32>::new(START_MS))
        .bench_local_values(|mut wheel| {
            for (i, due) in dues.iter().enumerate() {
                wheel.insert(*due, i as u32).expect("within the horizon");
            }
            let (mut now, mut fired) = (START_MS, 0);
            let mut out = Vec::with_capacity(4_096);
            while now < START_MS + SPREAD_MS {
                now += TICK_MS;
                fired += wheel.advance(now, &mut out);
                black_box(&out);
                out.clear();
            }
            assert_eq!(fired, ITEMS);
            wheel
        });
}

/// 1M inserts, then every one cancelled by its handle.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn insert_cancel_1m(bencher: Bencher) {
    let dues = due_times();
    bencher
        .counter(ItemsCount::new(ITEMS))
        .with_inputs(|| Wheel::<u32>::new(START_MS))
        .bench_local_values(|mut wheel| {
            let ids: Vec<_> = dues
                .iter()
                .enumerate()
                .map(|(i, due)| wheel.insert(*due, i as u32).expect("within the horizon"))
                .collect();
            for id in ids {
                black_box(wheel.cancel(id));
            }
            assert!(wheel.is_empty());
            wheel
        });
}
