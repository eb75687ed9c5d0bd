//! Signed-in users owned by this core: how many connections each has open (on any core) and
//! which connections watch them. A plain per-core structure; `cores::watchlist` moves its
//! outcomes between cores.
//!
//! Each watcher remembers the status it was last told, and is told only a change. With
//! scaling on, a new watcher's question to the cluster and a cluster-wide flip can both say
//! "online" (whichever Redis answered first); the watcher must hear it once.

use std::collections::HashMap;
use std::sync::Arc;

use crate::shard::cores::msg::ConnRef;

#[derive(Default)]
struct Entry {
    connections: u32,
    watchers: Vec<Watcher>,
}

/// A connection watching the user, and the status it was last told.
struct Watcher {
    conn: ConnRef,
    told_online: bool,
}

/// Users owned by this core, per app.
pub struct UserRegistry {
    apps: Vec<HashMap<Arc<str>, Entry>>,
}

impl UserRegistry {
    /// No users, for `apps` apps.
    pub fn new(apps: usize) -> Self {
        UserRegistry {
            apps: (0..apps).map(|_| HashMap::new()).collect(),
        }
    }

    /// One more connection of `user`; true when it is the first (on this node).
    pub fn online(&mut self, app: usize, user: &Arc<str>) -> bool {
        let entry = self.apps[app].entry(user.clone()).or_default();
        entry.connections += 1;
        entry.connections == 1
    }

    /// One connection of `user` fewer; true when it was the last (on this node).
    pub fn offline(&mut self, app: usize, user: &str) -> bool {
        let Some(entry) = self.apps[app].get_mut(user) else {
            return false;
        };
        let was = entry.connections;
        entry.connections = was.saturating_sub(1);
        self.prune(app, user);
        was == 1
    }

    /// Records that `user` is `online` (or not) for its watchers; answers those that were last
    /// told otherwise, which are the ones to tell now.
    pub fn tell(&mut self, app: usize, user: &str, online: bool) -> Vec<ConnRef> {
        let Some(entry) = self.apps[app].get_mut(user) else {
            return Vec::new();
        };
        let changed = entry
            .watchers
            .iter_mut()
            .filter(|w| w.told_online != online);
        changed
            .map(|w| {
                w.told_online = online;
                w.conn
            })
            .collect()
    }

    /// [`Self::tell`] for one watcher: true when it was last told otherwise.
    pub fn tell_one(&mut self, app: usize, user: &str, watcher: ConnRef, online: bool) -> bool {
        let Some(entry) = self.apps[app].get_mut(user) else {
            return false;
        };
        let watcher = entry.watchers.iter_mut().find(|w| w.conn == watcher);
        match watcher {
            Some(w) if w.told_online != online => {
                w.told_online = online;
                true
            }
            _ => false,
        }
    }

    /// The users of `app` with a connection open.
    pub fn online_users(&self, app: usize) -> impl Iterator<Item = Arc<str>> + '_ {
        self.apps[app]
            .iter()
            .filter(|(_, e)| e.connections > 0)
            .map(|(u, _)| u.clone())
    }

    /// Registers `watcher` for `user`; true when the user is online now (the watcher counts as
    /// told so).
    pub fn watch(&mut self, app: usize, user: &Arc<str>, watcher: ConnRef) -> bool {
        let entry = self.apps[app].entry(user.clone()).or_default();
        let told_online = entry.connections > 0;
        entry.watchers.push(Watcher {
            conn: watcher,
            told_online,
        });
        told_online
    }

    /// Stops `watcher` watching `user`.
    pub fn unwatch(&mut self, app: usize, user: &str, watcher: ConnRef) {
        if let Some(entry) = self.apps[app].get_mut(user) {
            entry.watchers.retain(|w| w.conn != watcher);
        }
        self.prune(app, user);
    }

    fn prune(&mut self, app: usize, user: &str) {
        let map = &mut self.apps[app];
        if map
            .get(user)
            .is_some_and(|e| e.connections == 0 && e.watchers.is_empty())
        {
            map.remove(user);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::pusher::SocketId;

    fn conn(n: u64) -> ConnRef {
        ConnRef {
            core: 0,
            key: n as usize,
            socket_id: SocketId::new(1, n),
        }
    }

    #[test]
    fn the_first_and_last_connection_flip_the_status() {
        let mut r = UserRegistry::new(1);
        let u: Arc<str> = Arc::from("u1");
        assert!(!r.watch(0, &u, conn(1)));
        assert!(r.online(0, &u));
        assert!(!r.online(0, &u), "second tab");
        assert!(r.watch(0, &u, conn(2)), "already online");
        assert!(!r.offline(0, "u1"));
        assert!(r.offline(0, "u1"));
        assert!(!r.offline(0, "u1"), "no connection left");
        r.unwatch(0, "u1", conn(1));
        r.unwatch(0, "u1", conn(2));
        assert!(r.apps[0].is_empty());
    }

    #[test]
    fn a_watcher_is_told_each_status_once_whichever_source_says_it() {
        let mut r = UserRegistry::new(1);
        let u: Arc<str> = Arc::from("u1");
        assert!(!r.watch(0, &u, conn(1)), "offline on this node");
        // The cluster's flip and the answer to the watcher's own question both say online.
        assert_eq!(r.tell(0, "u1", true), vec![conn(1)]);
        assert!(!r.tell_one(0, "u1", conn(1), true), "already told");
        assert!(r.tell(0, "u1", true).is_empty());
        assert_eq!(r.tell(0, "u1", false), vec![conn(1)]);
        assert!(r.tell_one(0, "u1", conn(1), true));
        assert!(!r.tell_one(0, "u1", conn(9), true), "not a watcher");
    }
}
