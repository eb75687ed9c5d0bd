//! Which core owns a channel's global facts, and how a message reaches a core.
//!
//! A channel's presence members and cached event live on exactly one core, chosen by a stable
//! hash of the channel name, so every core agrees on the owner without asking. Messages to
//! another core go through the rings; messages a core sends to itself go through its local
//! queue and are handled by its own drain task, never inline, so a handler never re-enters
//! state its caller still borrows.

use crate::shard::state::{CoreMsg, Shard};

/// The core that owns `channel` among `cores` cores (FNV-1a of the name).
pub fn owner_of(channel: &str, cores: usize) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in channel.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % cores.max(1) as u64) as usize
}

/// Sends `msg` to core `dst` (possibly this one).
pub fn send(shard: &Shard, dst: usize, msg: CoreMsg) {
    if dst == shard.id {
        shard.self_queue.borrow_mut().push_back(msg);
        shard.bell.ring();
    } else {
        shard.ring.borrow_mut().send(dst, msg);
    }
}

/// Sends `msg` to the owner of `channel`.
pub fn send_to_owner(shard: &Shard, channel: &str, msg: CoreMsg) {
    send(shard, owner_of(channel, shard.config.workers), msg);
}

/// Sends one message to every core, this one included, built by `make`.
pub fn broadcast(shard: &Shard, mut make: impl FnMut() -> CoreMsg) {
    for dst in 0..shard.config.workers {
        send(shard, dst, make());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_is_stable_and_spread() {
        assert_eq!(owner_of("presence-a", 1), 0);
        assert_eq!(owner_of("presence-a", 4), owner_of("presence-a", 4));
        let hits = (0..100)
            .map(|i| owner_of(&format!("presence-{i}"), 2))
            .filter(|&o| o == 0)
            .count();
        assert!((20..80).contains(&hits), "{hits}");
    }
}
