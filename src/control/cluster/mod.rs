//! The cluster state on the control core (scaling on): this node's heartbeat, the sweep of
//! dead nodes, and this node's share in Redis of the presence members, the subscription
//! counts and the signed-in users (see `docs/scaling.md` for the keys).
//!
//! Shards hand their changes over as [`ClusterOp`]s (fire and forget); one task owns a Redis
//! connection of its own (apart from the relay's publisher and subscriber, so a slow script
//! never delays events), runs each change as one Lua script ([`scripts`]) and hands the
//! outcome back to the asking shard as a [`ClusterDone`]. Between changes it beats every
//! third of the TTL and sweeps every quarter: a node found dead is claimed by exactly one
//! sweeper (`SREM` answers 1 once), which removes its share and announces `member_removed`
//! for the members the cluster lost, on every node, `channel_vacated` for the channels it
//! emptied and `offline` for the users it took offline.
//!
//! While Redis is unreachable every change is answered at once with no cluster outcome, and
//! the shard falls back to what this node knows (its own members), so clients keep working.

mod cache;
mod commands;
mod counts;
mod leave;
mod limits;
mod resync;
mod scripts;
mod task;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use super::msg::{Answer, ControlMsg};
use super::pusher_hooks::{self, PusherHooks};
use super::relay::{Relay, Relayed};
use crate::broker::{BrokerError, Connection, LinkOptions};
use crate::config::ScalingConfig;
use crate::ring::{BellHandle, Endpoint};
use crate::shard::cores::msg::{ChannelFilter, ConnRef};
use crate::shard::Shared;
use crate::webhook::body::PusherEvent;
pub use cache::frame_text;
pub use commands::Command;
pub use leave::finish;
pub use scripts::{Counts as ClusterCounts, Member};

/// A shard's change of this node's share, for the control core to apply in Redis.
#[derive(Debug)]
pub enum ClusterOp {
    /// A connection of `user_id` joined presence channel `channel` (owner core `from`).
    Join {
        /// The channel's owner core, which gets the outcome.
        from: usize,
        /// App index.
        app: usize,
        /// Presence channel.
        channel: Arc<str>,
        /// The member.
        user_id: Arc<str>,
        /// Raw JSON user_info.
        info: Option<Arc<str>>,
        /// The joining connection.
        conn: ConnRef,
        /// Whether the user is new on this node (the fallback while Redis is away).
        new_here: bool,
    },
    /// Shard `from`'s share of the node's state, asked by [`ClusterDone::Snapshot`].
    Snapshot {
        /// The shard.
        from: usize,
        /// What it holds.
        share: Box<Share>,
    },
    /// This node's subscriptions of `channel` changed by `delta`.
    Count {
        /// The shard where it changed.
        from: usize,
        /// App index.
        app: usize,
        /// The channel.
        channel: Arc<str>,
        /// Subscriptions gained (positive) or lost.
        delta: i64,
    },
    /// A REST read of the cluster's counts, answered as [`ControlMsg::Reply`] to `id`.
    Query {
        /// The asking shard.
        from: usize,
        /// The shard's id for the question.
        id: usize,
        /// App index.
        app: usize,
        /// Which channels.
        filter: ChannelFilter,
        /// Whether to list the exact channel's member ids.
        with_members: bool,
    },
    /// Signed-in user `user` got their first connection on this node (`online`) or lost
    /// their last.
    Status {
        /// The user's owner core, which gets the outcome.
        from: usize,
        /// App index.
        app: usize,
        /// The user.
        user: Arc<str>,
        /// Online or offline on this node.
        online: bool,
    },
    /// A new watcher of `user`, which is not online on this node: is it on another?
    IsOnline {
        /// The user's owner core, which gets the outcome.
        from: usize,
        /// App index.
        app: usize,
        /// The user.
        user: Arc<str>,
        /// The watching connection.
        watcher: ConnRef,
    },
    /// The user's last connection on this node left `channel`.
    Leave {
        /// The channel's owner core, which gets the outcome.
        from: usize,
        /// App index.
        app: usize,
        /// Presence channel.
        channel: Arc<str>,
        /// The member.
        user_id: Arc<str>,
    },
    /// An application event published on this node to cache channel `channel`: its last
    /// event for every node ([`cache`]).
    CacheStore {
        /// App index.
        app: usize,
        /// The cache channel.
        channel: Arc<str>,
        /// The event frame.
        frame: bytes::Bytes,
        /// The app's `cache_ttl` in ms.
        ttl_ms: u64,
    },
    /// A subscriber of a cache channel this node has no event of: has another node one?
    CacheFetch {
        /// The channel's owner core, which gets the outcome.
        from: usize,
        /// App index.
        app: usize,
        /// The cache channel.
        channel: Arc<str>,
        /// The subscribing connection.
        conn: ConnRef,
    },
}

/// (app, presence channel, user, raw JSON info): one member in a [`Share`].
pub type MemberRow = (usize, Arc<str>, Arc<str>, Option<Arc<str>>);

/// One shard's part of this node's state, re-published after a reconnect to Redis.
#[derive(Debug, Default)]
pub struct Share {
    /// (app, channel, subscriptions on this shard).
    pub counts: Vec<(usize, Arc<str>, usize)>,
    /// The members of the presence channels this shard owns.
    pub members: Vec<MemberRow>,
    /// (app, user): the signed-in users this shard owns with a connection on this node.
    pub users: Vec<(usize, Arc<str>)>,
}

/// The outcome of a [`ClusterOp`], back to the owner core.
#[derive(Debug)]
pub enum ClusterDone {
    /// To every shard after a reconnect to Redis: send your share ([`ClusterOp::Snapshot`]).
    Snapshot,
    /// A join applied: `cluster` is whether the user is new cluster-wide and the cluster's
    /// members, `None` when Redis could not be asked.
    Joined {
        /// App index.
        app: usize,
        /// Presence channel.
        channel: Arc<str>,
        /// The member.
        user_id: Arc<str>,
        /// Raw JSON user_info.
        info: Option<Arc<str>>,
        /// The joining connection.
        conn: ConnRef,
        /// Whether the user is new on this node.
        new_here: bool,
        /// The cluster's answer.
        cluster: Option<(bool, Vec<Member>)>,
    },
    /// A status change applied: whether the user's cluster-wide status flipped, `None` when
    /// Redis could not be asked.
    Status {
        /// App index.
        app: usize,
        /// The user.
        user: Arc<str>,
        /// Online or offline on this node.
        online: bool,
        /// The cluster's answer.
        flipped: Option<bool>,
    },
    /// Whether the user a new watcher watches is online on some node (`None`: unknown).
    IsOnline {
        /// App index.
        app: usize,
        /// The user.
        user: Arc<str>,
        /// The watching connection.
        watcher: ConnRef,
        /// The cluster's answer.
        online: Option<bool>,
    },
    /// A leave applied: whether the cluster lost the member, `None` when Redis could not
    /// be asked.
    Left {
        /// App index.
        app: usize,
        /// Presence channel.
        channel: Arc<str>,
        /// The member.
        user_id: Arc<str>,
        /// The cluster's answer.
        removed: Option<bool>,
    },
    /// The cluster's last event of a cache channel: the frame and how long Redis keeps it;
    /// `None` for none (or Redis away).
    CacheFetched {
        /// App index.
        app: usize,
        /// The cache channel.
        channel: Arc<str>,
        /// The subscribing connection.
        conn: ConnRef,
        /// The cluster's answer.
        found: Option<(bytes::Bytes, Duration)>,
    },
}

/// What the task hands to the serve loop.
enum Output {
    /// An outcome for shard `.0`.
    Shard(usize, ClusterDone),
    /// The answer to question `.1` of shard `.0`: `None` when Redis could not be asked.
    Reply(usize, usize, Option<ClusterCounts>),
    /// A Pusher channel webhook event decided here.
    Hook(usize, PusherEvent),
    /// An event for every node's subscribers (this one's included).
    Broadcast(Relayed),
}

/// The cluster state's queue and outputs on the control core.
pub struct Cluster {
    /// App ids, in `Config::apps` order.
    apps: Vec<String>,
    queue: RefCell<VecDeque<ClusterOp>>,
    /// The task, asleep while `queue` is empty.
    waiting: Cell<Option<Waker>>,
    out: RefCell<Vec<Output>>,
    /// The serve loop's doorbell.
    wake: BellHandle,
    /// How many shards the node runs.
    shards: usize,
    /// Where the cluster-wide limits' readings go ([`limits`]); its shutdown flag starts
    /// the clean leave ([`leave`]).
    shared: Arc<Shared>,
    /// Set by [`finish`] at stop, for a stop without the shutdown flag.
    leave_asked: Cell<bool>,
    /// Set once this node's share is out of Redis: no more cluster calls.
    left: Cell<bool>,
}

impl Cluster {
    /// Opens the cluster connection (the error names Redis's address), joins the cluster as
    /// node `node` and starts the task.
    pub async fn launch(
        scaling: &ScalingConfig,
        node: &str,
        apps: &[String],
        endpoint: &Endpoint<ControlMsg>,
        shared: &Arc<Shared>,
    ) -> Result<Rc<Cluster>, BrokerError> {
        let options = LinkOptions::default();
        let conn = Connection::open(&scaling.redis, options.connect_timeout).await?;
        let cluster = Rc::new(Cluster {
            apps: apps.to_vec(),
            queue: RefCell::new(VecDeque::new()),
            waiting: Cell::new(None),
            out: RefCell::new(Vec::new()),
            wake: endpoint.bell(),
            shards: endpoint.cores() - 1,
            shared: shared.clone(),
            leave_asked: Cell::new(false),
            left: Cell::new(false),
        });
        let setup = task::Setup::new(scaling, node, options);
        monoio::spawn(task::run(cluster.clone(), conn, setup));
        Ok(cluster)
    }

    /// Takes a shard's message if it is a cluster change; else hands it back.
    pub fn take(&self, msg: ControlMsg) -> Option<ControlMsg> {
        let ControlMsg::Cluster(op) = msg else {
            return Some(msg);
        };
        self.queue.borrow_mut().push_back(*op);
        if let Some(waker) = self.waiting.take() {
            waker.wake();
        }
        None
    }

    /// Whether outputs wait for the serve loop.
    pub fn has_output(&self) -> bool {
        !self.out.borrow().is_empty()
    }

    /// Hands the outputs on: outcomes to their shards, webhook events to the hooks, events to
    /// every node through the relay.
    pub fn flush(
        &self,
        endpoint: &mut Endpoint<ControlMsg>,
        relay: &Relay,
        hooks: &Rc<PusherHooks>,
    ) {
        for output in self.out.borrow_mut().drain(..) {
            match output {
                Output::Shard(dst, done) => {
                    endpoint.send(dst, ControlMsg::ClusterDone(Box::new(done)))
                }
                Output::Reply(dst, id, counts) => {
                    let answer = Answer::ClusterCounts(counts.map(Box::new));
                    let reply = Box::new(Ok(answer));
                    endpoint.send(dst, ControlMsg::Reply { id, reply });
                }
                Output::Hook(app, event) => pusher_hooks::on_event(hooks, app, event),
                Output::Broadcast(relayed) => relay.broadcast(relayed),
            }
        }
    }

    fn push(&self, output: Output) {
        self.out.borrow_mut().push(output);
        self.wake.ring();
    }

    fn app_index(&self, id: &str) -> Option<usize> {
        self.apps.iter().position(|a| a == id)
    }

    /// Whether the node is shutting down and should leave the cluster.
    fn leaving(&self) -> bool {
        self.leave_asked.get() || self.shared.shutting_down.load(Ordering::Acquire)
    }

    /// Asks the task for the clean leave now.
    fn ask_leave(&self) {
        self.leave_asked.set(true);
        if let Some(waker) = self.waiting.take() {
            waker.wake();
        }
    }

    /// Waits until changes are queued, a leave is asked, or `deadline` passed.
    async fn ready_until(&self, deadline: Instant) {
        let ready = poll_fn(|cx| {
            // A leave asked at stop must not wait out the deadline.
            let leave_due = self.leave_asked.get() && !self.left.get();
            if self.queue.borrow().is_empty() && !leave_due {
                self.waiting.set(Some(cx.waker().clone()));
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        });
        let wait = deadline.saturating_duration_since(Instant::now());
        let _ = monoio::time::timeout(wait.max(Duration::from_millis(1)), ready).await;
    }
}
