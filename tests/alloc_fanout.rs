//! The fan-out path allocates nothing per subscriber: a counting allocator watches the shard
//! threads while events go to 40 and then to 400 subscribers; the allocations per event must
//! not grow with the subscriber count.
//!
//! The server runs in this test process (the library's `shard::start`), so the allocator sees
//! its threads; only allocations on threads named `ringcast-shard-*` are counted.

mod common;
#[path = "support/raw_client.rs"]
mod raw_client;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use raw_client::Subscriber;

/// Counts allocations made on shard threads.
struct ShardAllocCounter;

static SHARD_ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// 0: not yet known, 1: a shard thread, 2: another thread.
    static KIND: Cell<u8> = const { Cell::new(0) };
}

fn on_shard_thread() -> bool {
    KIND.with(|kind| match kind.get() {
        1 => true,
        2 => false,
        _ => {
            // Mark first: looking up the thread name may allocate, and that allocation must
            // not come back here.
            kind.set(2);
            let shard = std::thread::current()
                .name()
                .is_some_and(|n| n.starts_with("ringcast-shard"));
            kind.set(if shard { 1 } else { 2 });
            shard
        }
    })
}

// SAFETY: every call is forwarded unchanged to the system allocator; the wrapper only counts.
unsafe impl GlobalAlloc for ShardAllocCounter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if on_shard_thread() {
            SHARD_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract for `layout` is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this `layout` (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if on_shard_thread() {
            SHARD_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as for `alloc` and `dealloc`; `ptr`/`layout` come from this allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: ShardAllocCounter = ShardAllocCounter;

/// Starts one shard in this process on a free port (retrying if another test took the port
/// between the probe and the bind).
fn start_in_process() -> (u16, ringcast::shard::Server) {
    let mut last = String::new();
    for _ in 0..10 {
        match try_start(common::free_port()) {
            Ok(started) => return started,
            Err(e) => last = e,
        }
    }
    panic!("cannot start the in-process server: {last}");
}

fn try_start(port: u16) -> Result<(u16, ringcast::shard::Server), String> {
    let env = move |k: &str| -> Option<String> {
        match k {
            "REVERB_SERVER_HOST" => Some("127.0.0.1".into()),
            "REVERB_SERVER_PORT" => Some(port.to_string()),
            "REVERB_APP_ID" => Some("424242".into()),
            "REVERB_APP_KEY" => Some("test-key".into()),
            "REVERB_APP_SECRET" => Some("test-secret".into()),
            "RINGCAST_WORKERS" => Some("1".into()),
            "RINGCAST_MAX_CONNECTIONS_PER_IP_PER_MINUTE" => Some("0".into()),
            // The default data directory is relative to the source tree.
            "RINGCAST_DATA_DIR" => {
                Some(concat!(env!("CARGO_TARGET_TMPDIR"), "/alloc-fanout").into())
            }
            _ => None,
        }
    };
    let config = ringcast::config::load(None, &env, 1).map_err(|e| e.to_string())?;
    let server = ringcast::start(Arc::new(config), None).map_err(|e| e.to_string())?;
    Ok((port, server))
}

/// Publishes `n` events on `fan` and returns the shard allocations per event.
fn allocations_per_event(port: u16, subs: &mut [Subscriber], n: u64) -> u64 {
    let publish = |i: u64| {
        let body = format!(r#"{{"name":"e{i}","channel":"fan","data":"{i}"}}"#);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let path = "/apps/424242/events";
        let query = ringcast::proto::api::sign_request(
            "POST",
            path,
            &[],
            body.as_bytes(),
            "test-key",
            "test-secret",
            now,
        );
        let (status, resp) = common::http_post(port, &format!("{path}?{query}"), &body);
        assert_eq!(status, 200, "{resp}");
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
    std::thread::sleep(Duration::from_millis(100));
    let before = SHARD_ALLOCS.load(Ordering::Relaxed);
    for i in 0..n {
        publish(100 + i);
    }
    // Every subscriber has it (so every write happened) before counting stops.
    for sub in subs.iter_mut() {
        for _ in 0..n {
            sub.next_event();
        }
    }
    std::thread::sleep(Duration::from_millis(100));
    (SHARD_ALLOCS.load(Ordering::Relaxed) - before) / n
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
