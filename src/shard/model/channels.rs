//! The per-core channel index: which local connections subscribe to which channel.
//!
//! Owned by one shard and touched only from its thread. Lists are plain vectors of slab keys so
//! a fan-out walks contiguous memory; order carries no meaning.

use std::collections::HashMap;
use std::rc::Rc;

/// Local subscribers per (app, channel).
pub struct ChannelIndex {
    apps: Vec<HashMap<Rc<str>, Vec<usize>>>,
}

impl ChannelIndex {
    /// An empty index for `apps` apps.
    pub fn new(apps: usize) -> Self {
        ChannelIndex {
            apps: (0..apps).map(|_| HashMap::new()).collect(),
        }
    }

    /// Adds `conn` to `channel` (the first subscriber's name is kept as the key, shared with
    /// its session); true when it is the channel's first local subscriber. The caller makes sure
    /// a connection subscribes to a channel at most once.
    pub fn subscribe(&mut self, app: usize, channel: &Rc<str>, conn: usize) -> bool {
        let map = &mut self.apps[app];
        if let Some(list) = map.get_mut(&**channel) {
            list.push(conn);
            return false;
        }
        map.insert(channel.clone(), vec![conn]);
        true
    }

    /// Removes `conn` from `channel`; drops the channel when it becomes empty.
    /// Returns true when that removed the channel's last local subscriber.
    pub fn unsubscribe(&mut self, app: usize, channel: &str, conn: usize) -> bool {
        let map = &mut self.apps[app];
        let Some(list) = map.get_mut(channel) else {
            return false;
        };
        let Some(pos) = list.iter().position(|&c| c == conn) else {
            return false;
        };
        list.swap_remove(pos);
        if list.is_empty() {
            map.remove(channel);
            return true;
        }
        false
    }

    /// The local subscribers of `channel`.
    pub fn subscribers(&self, app: usize, channel: &str) -> &[usize] {
        self.apps
            .get(app)
            .and_then(|m| m.get(channel))
            .map_or(&[], Vec::as_slice)
    }

    /// Every channel of `app` with local subscribers, and how many.
    pub fn channels(&self, app: usize) -> impl Iterator<Item = (&Rc<str>, usize)> {
        self.apps[app].iter().map(|(name, list)| (name, list.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_and_unsubscribe() {
        let mut idx = ChannelIndex::new(2);
        let news: Rc<str> = Rc::from("news");
        assert!(idx.subscribe(0, &news, 1));
        assert!(!idx.subscribe(0, &Rc::from("news"), 2));
        let (key, _) = idx.channels(0).next().unwrap();
        assert!(
            Rc::ptr_eq(key, &news),
            "the first subscriber's name is the key"
        );
        idx.subscribe(1, &news, 3);
        assert_eq!(idx.subscribers(0, "news"), &[1, 2]);
        assert!(!idx.unsubscribe(0, "news", 1));
        assert!(!idx.unsubscribe(0, "news", 1), "not subscribed any more");
        assert_eq!(idx.subscribers(0, "news"), &[2]);
        assert!(idx.unsubscribe(0, "news", 2));
        assert!(idx.subscribers(0, "news").is_empty());
        assert_eq!(idx.subscribers(1, "news"), &[3]);
    }
}
