//! Graceful shutdown: stop accepting, tell every client to reconnect elsewhere (Pusher error
//! 4200), and end the shard once its connections are gone or the deadline passes.
//!
//! The signal arrives on the main thread, which sets [`Shared::shutting_down`] and rings every
//! core's doorbell; each shard's drain task notices and runs [`begin`] on its own thread.

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::proto::pusher::session::Input;
use crate::shard::io::{effects, outbox};
use crate::shard::state::Shard;

/// How often the shard checks whether its connections are gone.
const POLL: Duration = Duration::from_millis(20);

/// True once the process is shutting down.
pub fn requested(shard: &Shard) -> bool {
    shard.shared.shutting_down.load(Ordering::Acquire)
}

/// Stops the accept loop and asks every client to reconnect.
pub fn begin(shard: &Shard) {
    if let Some(canceller) = shard.accept_cancel.borrow_mut().take() {
        canceller.cancel();
    }
    let now = Instant::now();
    for key in effects::keys(shard, |_| true) {
        effects::feed(shard, key, Input::Shutdown);
        if let Some(conn) = shard.conns.borrow_mut().get_mut(key) {
            conn.closing_since.get_or_insert(now);
        }
    }
}

/// Waits until this shard has no connections left and every writer has flushed its last
/// frames (the 4200 notice and close frame), or `deadline` passes. Ending the runtime earlier
/// would drop writers mid-flush, and a client would see the socket close with no reason.
pub async fn drained(shard: Rc<Shard>, deadline: Duration) {
    let end = Instant::now() + deadline;
    while (!shard.conns.borrow().is_empty() || outbox::live_writers() > 0) && Instant::now() < end {
        monoio::time::sleep(POLL).await;
    }
}
