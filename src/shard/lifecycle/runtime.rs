//! Builds a thread's monoio runtime on the chosen driver and runs one future to completion.
//!
//! Shared by the shard threads and the control core so both get the same driver settings. It
//! never decides the driver (`shard::start` does, once) and never spawns a thread.

use std::future::Future;

/// Runs `body` on a new runtime: io_uring when `uring`, else epoll; timers enabled. Fails only
/// when the runtime cannot be built.
pub fn block_on<F: Future>(uring: bool, body: F) -> std::io::Result<F::Output> {
    if uring {
        monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .enable_timer()
            .with_entries(4096)
            .build()
            .map(|mut rt| rt.block_on(body))
    } else {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .map(|mut rt| rt.block_on(body))
    }
}
