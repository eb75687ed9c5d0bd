//! Messages between cores, and the small types they carry.
//!
//! Every cross-core interaction is one of these variants pushed through a ring (or, for the
//! core itself, its local queue), so this file is the complete list of what cores say to each
//! other.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::collections::{Registration, Routes, SharedChange};
use super::gather::Reply;
use crate::proto::pusher::SocketId;
use crate::ratelimit::IpGroup;
use crate::shard::model::collections::Announcement;

/// Names a connection on a given core: its slab key there and its socket id (slab keys are
/// reused, so the socket id tells a stale reply from a live connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnRef {
    /// The core the connection lives on.
    pub core: usize,
    /// Its slab key on that core.
    pub key: usize,
    /// Its socket id.
    pub socket_id: SocketId,
}

/// A message between cores.
pub enum CoreMsg {
    /// Deliver an encoded event frame to the local subscribers of a channel.
    Publish {
        /// Index of the app in `Config::apps`.
        app: usize,
        /// Channel name.
        channel: Arc<str>,
        /// The complete WebSocket frame, the same bytes for every subscriber.
        frame: Bytes,
        /// A connection that must not receive it (REST `socket_id`, a client event's sender).
        except: Option<SocketId>,
        /// When the publishing core accepted the event (for the delivery-latency histogram).
        published: Instant,
    },
    /// `core` gained its first (`on`) or lost its last local subscriber of `channel`.
    Interest {
        /// App index.
        app: usize,
        /// Channel.
        channel: Arc<str>,
        /// The announcing core.
        core: usize,
        /// Gained (true) or lost (false).
        on: bool,
    },
    /// To a channel's owner: `core` now has `count` local subscribers of `channel`.
    SubscriptionCount {
        /// App index.
        app: usize,
        /// Channel.
        channel: Arc<str>,
        /// The reporting core.
        core: usize,
        /// Its local subscribers.
        count: u64,
    },
    /// To a presence channel's owner: a connection wants to join as `user_id`.
    PresenceJoin {
        /// App index.
        app: usize,
        /// Presence channel.
        channel: Arc<str>,
        /// The member id claimed in the signed channel_data.
        user_id: Arc<str>,
        /// Raw JSON user_info.
        user_info: Option<Arc<str>>,
        /// The joining connection.
        conn: ConnRef,
    },
    /// From the owner: the outcome of a join; `Ok` carries the presence data JSON.
    PresenceJoined {
        /// App index.
        app: usize,
        /// Presence channel.
        channel: Arc<str>,
        /// The member id the join carried (to undo it if the connection is gone).
        user_id: Arc<str>,
        /// The joining connection.
        conn: ConnRef,
        /// Presence data for `subscription_succeeded`, or why the join was refused.
        result: Result<String, String>,
    },
    /// To the owner: one connection of `user_id` left the channel.
    PresenceLeave {
        /// App index.
        app: usize,
        /// Presence channel.
        channel: Arc<str>,
        /// The member id.
        user_id: Arc<str>,
    },
    /// To a cache channel's owner: remember this event frame.
    CacheStore {
        /// App index.
        app: usize,
        /// Cache channel.
        channel: Arc<str>,
        /// The event frame.
        frame: Bytes,
    },
    /// To a cache channel's owner: send the cached event to a new subscriber.
    CacheFetch {
        /// App index.
        app: usize,
        /// Cache channel.
        channel: Arc<str>,
        /// The new subscriber.
        conn: ConnRef,
    },
    /// From the owner: the cached frame, or `None` for a cache miss.
    CacheFetched {
        /// Cache channel.
        channel: Arc<str>,
        /// The subscriber.
        conn: ConnRef,
        /// The cached event frame.
        frame: Option<Bytes>,
    },
    /// A REST read spread over all cores; answered with `Answer`.
    Ask {
        /// The asking core.
        from: usize,
        /// The asking core's id for this question.
        id: usize,
        /// The question.
        query: Arc<Query>,
    },
    /// One core's answer to `Ask` or `AdmitIp`.
    Answer {
        /// The id from the question.
        id: usize,
        /// This core's part of the answer.
        part: Reply,
    },
    /// To an address group's owner: may a new connection from it be accepted?
    AdmitIp {
        /// The asking core.
        from: usize,
        /// The asking core's id for this question.
        id: usize,
        /// The client's address group.
        group: IpGroup,
    },
    /// To a user's owner: one signed-in connection of the user opened or closed.
    UserStatus {
        /// App index.
        app: usize,
        /// The user id.
        user_id: Arc<str>,
        /// Opened (true) or closed (false).
        online: bool,
    },
    /// To a user's owner: `watcher` starts (`on`) or stops watching the user.
    Watch {
        /// App index.
        app: usize,
        /// The watched user.
        user_id: Arc<str>,
        /// The watching connection.
        watcher: ConnRef,
        /// Start (true) or stop (false).
        on: bool,
    },
    /// To a user's owner core (scaling on): the user came online or went offline
    /// cluster-wide; tell this node's watchers.
    ClusterStatus {
        /// App index.
        app: usize,
        /// The user.
        user_id: Arc<str>,
        /// Online (true) or offline (false).
        online: bool,
    },
    /// To a watcher's core: a watched user came online or went offline.
    WatchlistEvent {
        /// The watching connection.
        conn: ConnRef,
        /// Online (true) or offline (false).
        online: bool,
        /// The watched user.
        user_id: Arc<str>,
    },
    /// To a socket's core: register its collection filter; answered with `Answer`.
    Register {
        /// The asking core.
        from: usize,
        /// The asking core's id for this question.
        id: usize,
        /// What to register.
        reg: Arc<Registration>,
    },
    /// To every other core: one of the sending core's active collection filters changed.
    Route {
        /// App index.
        app: usize,
        /// The sending core.
        core: usize,
        /// What changed.
        announcement: Arc<Announcement>,
    },
    /// Deliver record changes to this core's collection subscribers.
    Records {
        /// App index.
        app: usize,
        /// The changes, in order, each serialized once by the ingesting core.
        changes: Arc<[SharedChange]>,
        /// A connection that must not receive it.
        except: Option<SocketId>,
        /// When the ingesting core accepted it.
        published: Instant,
        /// The deliveries the ingesting core's routes found on this core, or `None` (the
        /// index off): evaluate every subscriber here.
        routes: Option<Routes>,
    },
    /// Close every connection of a signed-in user (REST terminate_connections).
    TerminateUser {
        /// App index.
        app: usize,
        /// The user id given at sign-in.
        user_id: Arc<str>,
    },
}

/// A REST read that needs every core's view.
#[derive(Debug)]
pub struct Query {
    /// App index.
    pub app: usize,
    /// Only channels with this prefix (`filter_by_prefix`), or one exact channel.
    pub filter: ChannelFilter,
    /// Whether the owner should list the presence member ids of the (single) channel.
    pub with_members: bool,
}

/// Which channels a [`Query`] is about.
#[derive(Debug, Clone)]
pub enum ChannelFilter {
    /// Every channel whose name starts with this (empty: all).
    Prefix(String),
    /// Exactly this channel.
    Exact(String),
}

impl ChannelFilter {
    /// Whether `name` is selected.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            ChannelFilter::Prefix(p) => name.starts_with(p.as_str()),
            ChannelFilter::Exact(c) => name == c,
        }
    }
}

/// One core's part of a [`Query`] answer.
#[derive(Debug, Default)]
pub struct QueryPart {
    /// Local subscription counts of the selected channels.
    pub subscriptions: Vec<(Arc<str>, u64)>,
    /// User counts of the selected presence channels this core owns.
    pub users: Vec<(Arc<str>, u64)>,
    /// Member ids of the exact channel when this core owns it and they were asked for.
    pub members: Vec<Arc<str>>,
}
