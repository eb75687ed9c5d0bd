//! Memory stays flat: what a burst of traffic makes a connection hold is given back once the
//! connection is idle again, so a long run does not ratchet up to every connection's largest
//! burst. A counting allocator (see `support/shard_alloc.rs`) measures the bytes the shard
//! threads hold before and after a burst that every subscriber's writer must coalesce.

mod common;
#[path = "support/raw_client.rs"]
mod raw_client;
#[path = "support/shard_alloc.rs"]
mod shard_alloc;

use raw_client::Subscriber;
use shard_alloc::{live_bytes, settle, start_in_process};

#[global_allocator]
static ALLOCATOR: shard_alloc::ShardAllocCounter = shard_alloc::ShardAllocCounter;

const SUBSCRIBERS: usize = 100;
const BURST_EVENTS: usize = 10;
const EVENT_BYTES: usize = 900;

/// One `batch_events` request of `events` events on `fan`, each carrying `size` bytes of data:
/// all of them are queued on every subscriber's outbox before its writer runs.
fn publish_burst(port: u16, events: usize, size: usize) {
    let data = "x".repeat(size);
    let batch: Vec<String> = (0..events)
        .map(|i| format!(r#"{{"name":"e{i}","channel":"fan","data":"{data}"}}"#))
        .collect();
    let body = format!(r#"{{"batch":[{}]}}"#, batch.join(","));
    shard_alloc::publish(port, "/apps/424242/batch_events", &body);
}

fn receive(subs: &mut [Subscriber], events: usize) {
    for sub in subs.iter_mut() {
        for _ in 0..events {
            sub.next_event();
        }
    }
}

#[test]
fn a_burst_leaves_nothing_behind_on_idle_connections() {
    let (port, _server) = start_in_process();
    let mut subs: Vec<Subscriber> = (0..SUBSCRIBERS)
        .map(|_| Subscriber::connect(port, common::APP_KEY, &["fan"]))
        .collect();
    // Warm up with small events, so what every connection holds in any case is counted before.
    publish_burst(port, 2, 10);
    receive(&mut subs, 2);
    settle();
    let before = live_bytes();
    publish_burst(port, BURST_EVENTS, EVENT_BYTES);
    receive(&mut subs, BURST_EVENTS);
    settle();
    let kept = live_bytes() - before;
    let burst = (SUBSCRIBERS * BURST_EVENTS * EVENT_BYTES) as i64;
    eprintln!("after a burst of {burst} bytes to idle subscribers the shard keeps {kept} bytes");
    // Each writer coalesced the burst into one buffer of ~9 KB; kept per connection, that
    // would be the whole burst again. A few hundred bytes of bookkeeping may stay.
    assert!(
        kept < burst / 10,
        "the shard kept {kept} bytes after a {burst}-byte burst to {SUBSCRIBERS} idle subscribers"
    );
}
