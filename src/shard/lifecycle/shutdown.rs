//! Graceful shutdown: stop accepting, tell every client to reconnect elsewhere (Pusher error
//! 4200), and end the shard once its connections are gone or the deadline passes.
//!
//! The signal arrives on the main thread, which sets [`Shared::shutting_down`] and rings every
//! core's doorbell; each shard's drain task notices and runs [`begin`] on its own thread.

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::proto::pusher::session::Input;
use crate::shard::io::effects;
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

/// Waits until this shard has no connections left, or `deadline` passes.
pub async fn drained(shard: Rc<Shard>, deadline: Duration) {
    let end = Instant::now() + deadline;
    while !shard.conns.borrow().is_empty() && Instant::now() < end {
        monoio::time::sleep(POLL).await;
    }
    // Let the writers flush the close frames they already have.
    monoio::time::sleep(POLL).await;
}
