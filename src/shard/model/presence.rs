//! Presence membership, kept by each channel's owning core.
//!
//! A user is a member of a presence channel while at least one of their connections, on any
//! core, subscribes to it. Only the owner core counts connections per user, so "first join" and
//! "last leave" (the moments `member_added` / `member_removed` go out) are decided in one place
//! with no locks. Subscribing cores send joins and leaves over the rings (see `owner.rs`).

use std::collections::HashMap;
use std::sync::Arc;

/// One member of one presence channel.
struct Member {
    /// Raw JSON `user_info` from the first connection's channel_data.
    info: Option<Arc<str>>,
    /// Connections of this user subscribed to the channel, across all cores.
    connections: u32,
}

/// Members of one presence channel, in join order.
#[derive(Default)]
struct Channel {
    order: Vec<Arc<str>>,
    members: HashMap<Arc<str>, Member>,
}

/// What a join did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Join {
    /// The user's first connection: others must get `member_added`.
    NewMember,
    /// Another connection of a user already present: nothing to announce.
    SameMember,
    /// The channel already has `limit` members and this user is not one of them.
    Full,
}

/// Presence channels owned by this core, per app.
pub struct PresenceRegistry {
    apps: Vec<HashMap<Arc<str>, Channel>>,
}

impl PresenceRegistry {
    /// An empty registry for `apps` apps.
    pub fn new(apps: usize) -> Self {
        PresenceRegistry {
            apps: (0..apps).map(|_| HashMap::new()).collect(),
        }
    }

    /// Adds one connection of `user_id` to `channel`.
    pub fn join(
        &mut self,
        app: usize,
        channel: &Arc<str>,
        user_id: &Arc<str>,
        info: Option<Arc<str>>,
        limit: usize,
    ) -> Join {
        let ch = self.apps[app].entry(channel.clone()).or_default();
        if let Some(member) = ch.members.get_mut(user_id) {
            member.connections += 1;
            return Join::SameMember;
        }
        if ch.members.len() >= limit {
            if ch.members.is_empty() {
                self.apps[app].remove(channel);
            }
            return Join::Full;
        }
        ch.order.push(user_id.clone());
        ch.members.insert(
            user_id.clone(),
            Member {
                info,
                connections: 1,
            },
        );
        Join::NewMember
    }

    /// Removes one connection of `user_id`; true when it was the user's last (announce
    /// `member_removed`).
    pub fn leave(&mut self, app: usize, channel: &str, user_id: &str) -> bool {
        let Some(ch) = self.apps[app].get_mut(channel) else {
            return false;
        };
        let Some(member) = ch.members.get_mut(user_id) else {
            return false;
        };
        member.connections -= 1;
        if member.connections > 0 {
            return false;
        }
        ch.members.remove(user_id);
        ch.order.retain(|id| &**id != user_id);
        if ch.members.is_empty() {
            self.apps[app].remove(channel);
        }
        true
    }

    /// Members in join order with their raw `user_info`.
    pub fn members(&self, app: usize, channel: &str) -> Vec<(Arc<str>, Option<Arc<str>>)> {
        let Some(ch) = self.apps[app].get(channel) else {
            return Vec::new();
        };
        ch.order
            .iter()
            .filter_map(|id| ch.members.get(id).map(|m| (id.clone(), m.info.clone())))
            .collect()
    }

    /// Every owned presence channel of `app` with its user count.
    pub fn channels(&self, app: usize) -> impl Iterator<Item = (&Arc<str>, usize)> {
        self.apps[app]
            .iter()
            .map(|(name, c)| (name, c.members.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Arc<str> {
        Arc::from(s)
    }

    fn user_count(r: &PresenceRegistry, channel: &str) -> usize {
        r.channels(0)
            .find(|(name, _)| &***name == channel)
            .map_or(0, |(_, n)| n)
    }

    #[test]
    fn first_join_and_last_leave_are_announced_once() {
        let mut r = PresenceRegistry::new(1);
        let ch = a("presence-room");
        assert_eq!(r.join(0, &ch, &a("u1"), None, 100), Join::NewMember);
        assert_eq!(r.join(0, &ch, &a("u1"), None, 100), Join::SameMember);
        assert_eq!(
            r.join(0, &ch, &a("u2"), Some(a("{}")), 100),
            Join::NewMember
        );
        assert_eq!(user_count(&r, "presence-room"), 2);
        assert!(!r.leave(0, "presence-room", "u1"));
        assert!(r.leave(0, "presence-room", "u1"));
        assert!(!r.leave(0, "presence-room", "u1"), "already gone");
        let ids: Vec<_> = r
            .members(0, "presence-room")
            .into_iter()
            .map(|m| m.0)
            .collect();
        assert_eq!(ids, vec![a("u2")]);
        assert!(r.leave(0, "presence-room", "u2"));
        assert_eq!(r.channels(0).count(), 0);
    }

    #[test]
    fn limit_refuses_new_users_but_not_more_tabs() {
        let mut r = PresenceRegistry::new(1);
        let ch = a("presence-x");
        assert_eq!(r.join(0, &ch, &a("u1"), None, 1), Join::NewMember);
        assert_eq!(r.join(0, &ch, &a("u2"), None, 1), Join::Full);
        assert_eq!(r.join(0, &ch, &a("u1"), None, 1), Join::SameMember);
        assert_eq!(user_count(&r, "presence-x"), 1);
    }
}
