//! Signed-in users owned by this core: how many connections each has open (on any core) and
//! which connections watch them. A plain per-core structure; `cores::watchlist` moves its
//! outcomes between cores.

use std::collections::HashMap;
use std::sync::Arc;

use crate::shard::cores::msg::ConnRef;

#[derive(Default)]
struct Entry {
    connections: u32,
    watchers: Vec<ConnRef>,
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

    /// One more connection of `user`; the watchers to tell when the user just came online.
    pub fn online(&mut self, app: usize, user: &Arc<str>) -> Vec<ConnRef> {
        let entry = self.apps[app].entry(user.clone()).or_default();
        entry.connections += 1;
        if entry.connections == 1 {
            entry.watchers.clone()
        } else {
            Vec::new()
        }
    }

    /// One connection of `user` fewer; the watchers to tell when the user just went offline.
    pub fn offline(&mut self, app: usize, user: &str) -> Vec<ConnRef> {
        let Some(entry) = self.apps[app].get_mut(user) else {
            return Vec::new();
        };
        entry.connections = entry.connections.saturating_sub(1);
        let watchers = if entry.connections == 0 {
            entry.watchers.clone()
        } else {
            Vec::new()
        };
        self.prune(app, user);
        watchers
    }

    /// Open connections of `user` (on any core of this node).
    pub fn connections(&self, app: usize, user: &str) -> u32 {
        self.apps[app].get(user).map_or(0, |e| e.connections)
    }

    /// The users of `app` with a connection open.
    pub fn online_users(&self, app: usize) -> impl Iterator<Item = Arc<str>> + '_ {
        self.apps[app]
            .iter()
            .filter(|(_, e)| e.connections > 0)
            .map(|(u, _)| u.clone())
    }

    /// The connections watching `user`.
    pub fn watchers(&self, app: usize, user: &str) -> Vec<ConnRef> {
        self.apps[app]
            .get(user)
            .map_or_else(Vec::new, |e| e.watchers.clone())
    }

    /// Registers `watcher` for `user`; true when the user is online now.
    pub fn watch(&mut self, app: usize, user: &Arc<str>, watcher: ConnRef) -> bool {
        let entry = self.apps[app].entry(user.clone()).or_default();
        entry.watchers.push(watcher);
        entry.connections > 0
    }

    pub fn unwatch(&mut self, app: usize, user: &str, watcher: ConnRef) {
        if let Some(entry) = self.apps[app].get_mut(user) {
            entry.watchers.retain(|w| *w != watcher);
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
    fn online_and_offline_reach_watchers_once() {
        let mut r = UserRegistry::new(1);
        let u: Arc<str> = Arc::from("u1");
        assert!(!r.watch(0, &u, conn(1)));
        assert_eq!(r.online(0, &u), vec![conn(1)]);
        assert!(r.online(0, &u).is_empty(), "second tab");
        assert!(r.watch(0, &u, conn(2)), "already online");
        assert!(r.offline(0, "u1").is_empty());
        assert_eq!(r.offline(0, "u1"), vec![conn(1), conn(2)]);
        r.unwatch(0, "u1", conn(1));
        r.unwatch(0, "u1", conn(2));
        assert!(r.apps[0].is_empty());
    }
}
