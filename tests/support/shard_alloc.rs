//! A counting allocator for tests that run the server in their own process (the library's
//! `ringcast::start`), so it sees the shard threads: it counts allocations made on threads named
//! `ringcast-shard-*` and the bytes they hold live, and starts such a server.
//!
//! A test binary installs it with
//! `#[global_allocator] static ALLOCATOR: shard_alloc::ShardAllocCounter = shard_alloc::ShardAllocCounter;`
//! and keeps to one server per process (nextest runs each test in its own process).
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counts allocations made on shard threads, and the bytes they hold.
pub struct ShardAllocCounter;

static SHARD_ALLOCS: AtomicU64 = AtomicU64::new(0);
/// Bytes allocated minus bytes freed on shard threads (a frame freed on another thread is not
/// subtracted, so the figure is meant for one-shard servers, where that does not happen).
static SHARD_LIVE_BYTES: AtomicI64 = AtomicI64::new(0);

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

fn count(grown: i64) {
    SHARD_ALLOCS.fetch_add(1, Ordering::Relaxed);
    SHARD_LIVE_BYTES.fetch_add(grown, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator; the wrapper only counts.
unsafe impl GlobalAlloc for ShardAllocCounter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if on_shard_thread() {
            count(layout.size() as i64);
        }
        // SAFETY: the caller's contract for `layout` is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if on_shard_thread() {
            SHARD_LIVE_BYTES.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        }
        // SAFETY: `ptr` was allocated by `System` with this `layout` (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if on_shard_thread() {
            count(new_size as i64 - layout.size() as i64);
        }
        // SAFETY: as for `alloc` and `dealloc`; `ptr`/`layout` come from this allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations made on shard threads so far.
pub fn allocations() -> u64 {
    SHARD_ALLOCS.load(Ordering::Relaxed)
}

/// Bytes the shard threads hold now.
pub fn live_bytes() -> i64 {
    SHARD_LIVE_BYTES.load(Ordering::Relaxed)
}

/// Waits until the shard threads stop allocating (the counter unchanged for 50 ms; 5 s at
/// most): what a request or a write set off has finished before counting starts or stops.
pub fn settle() {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = allocations();
    let mut quiet = 0;
    while quiet < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        let now = allocations();
        quiet = if now == seen { quiet + 1 } else { 0 };
        seen = now;
    }
}

/// Starts one shard in this process on a free port (trying another if the probed one was
/// taken before the bind, or is shared with another process).
pub fn start_in_process() -> (u16, ringcast::shard::Server) {
    let mut last = String::new();
    for _ in 0..crate::common::ports::ATTEMPTS {
        let port = crate::common::free_port();
        match try_start(port) {
            Ok(server) if crate::common::ports::listens_alone(std::process::id(), port) => {
                return (port, server)
            }
            Ok(server) => {
                server.shutdown();
                server.join();
                last = format!("port {port} is shared with another process");
            }
            Err(e) => last = e,
        }
    }
    panic!("cannot start the in-process server: {last}");
}

fn try_start(port: u16) -> Result<ringcast::shard::Server, String> {
    let env = move |k: &str| -> Option<String> {
        match k {
            "REVERB_SERVER_HOST" => Some("127.0.0.1".into()),
            "REVERB_SERVER_PORT" => Some(port.to_string()),
            "REVERB_APP_ID" => Some(crate::common::APP_ID.into()),
            "REVERB_APP_KEY" => Some(crate::common::APP_KEY.into()),
            "REVERB_APP_SECRET" => Some(crate::common::APP_SECRET.into()),
            "RINGCAST_WORKERS" => Some("1".into()),
            "RINGCAST_MAX_CONNECTIONS_PER_IP_PER_MINUTE" => Some("0".into()),
            // The default data directory is relative to the source tree.
            "RINGCAST_DATA_DIR" => {
                Some(concat!(env!("CARGO_TARGET_TMPDIR"), "/shard-alloc").into())
            }
            _ => None,
        }
    };
    let config = ringcast::config::load(None, &env, 1).map_err(|e| e.to_string())?;
    ringcast::start(Arc::new(config), None).map_err(|e| e.to_string())
}

/// Publishes `body` to `path` (`/apps/424242/events` or `/batch_events`), signed with
/// ringcast's own signer; panics unless the answer is 200.
pub fn publish(port: u16, path: &str, body: &str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let query = ringcast::proto::api::sign_request(
        "POST",
        path,
        &[],
        body.as_bytes(),
        crate::common::APP_KEY,
        crate::common::APP_SECRET,
        now,
    );
    let (status, resp) = crate::common::http_post(port, &format!("{path}?{query}"), body);
    assert_eq!(status, 200, "{resp}");
}
