//! The fan-out path allocates nothing per subscriber: a counting allocator watches the shard
//! threads while events go to 40 and then to 400 subscribers; the allocations per event must
//! not grow with the subscriber count.
//!
//! The server runs in this test process (the library's `ringcast::start`), so the allocator sees
//! its threads; only allocations on threads named `ringcast-shard-*` are counted.

mod common;
#[path = "support/raw_client.rs"]
mod raw_client;
#[path = "support/shard_alloc.rs"]
mod shard_alloc;

use raw_client::Subscriber;
use shard_alloc::{allocations, settle, start_in_process};

#[global_allocator]
static ALLOCATOR: shard_alloc::ShardAllocCounter = shard_alloc::ShardAllocCounter;

/// Publishes `n` events on `fan` and returns the shard allocations per event.
fn allocations_per_event(port: u16, subs: &mut [Subscriber], n: u64) -> u64 {
    let publish = |i: u64| {
        let body = format!(r#"{{"name":"e{i}","channel":"fan","data":"{i}"}}"#);
        shard_alloc::publish(port, "/apps/424242/events", &body);
    };
    // Warm up: queues and buffers reach their working size first.
    for i in 0..3 {
        publish(i);
    }
    for sub in subs.iter_mut() {
        for _ in 0..3 {
            sub.next_event();
        }
    }
    settle();
    let before = allocations();
    for i in 0..n {
        publish(100 + i);
    }
    // Every subscriber has it (so every write happened) before counting stops.
    for sub in subs.iter_mut() {
        for _ in 0..n {
            sub.next_event();
        }
    }
    settle();
    (allocations() - before) / n
}

#[test]
fn fan_out_allocations_do_not_grow_with_subscribers() {
    let (port, _server) = start_in_process();
    let mut few: Vec<Subscriber> = (0..40)
        .map(|_| Subscriber::connect(port, "test-key", &["fan"]))
        .collect();
    let with_40 = allocations_per_event(port, &mut few, 20);
    let mut many: Vec<Subscriber> = (0..360)
        .map(|_| Subscriber::connect(port, "test-key", &["fan"]))
        .collect();
    many.append(&mut few);
    let with_400 = allocations_per_event(port, &mut many, 20);
    eprintln!("shard allocations per event: {with_40} with 40 subscribers, {with_400} with 400");
    // The REST request itself allocates (head, body, JSON, the frame); 360 more subscribers
    // must add nothing.
    assert!(
        with_400 <= with_40 + 2,
        "allocations per event grew with subscribers: {with_40} with 40, {with_400} with 400"
    );
}
