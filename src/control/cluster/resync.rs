//! Re-publishing this node's share after a reconnect to Redis: a Redis that restarted
//! without its data, or a sweep that took this node for dead while it was cut off, leaves
//! the cluster state without this node's members, counts and users.
//!
//! After a reconnect the task asks every shard for its share (`ClusterDone::Snapshot`) and
//! holds back the changes that follow until all shares are in: a change a shard made before
//! its snapshot is already in it, one made after must land after the restore. Counts are
//! restored as absolute values (so a share Redis kept is not counted twice); members and
//! users are added like joins, which add nothing for what is already there. The restore is
//! silent: no `member_added` or `online` goes out for what the other nodes already knew.
//! Left behind: a member who left while Redis was away stays listed, if Redis kept its data,
//! until the sweep or the member's next leave.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::scripts::Scope;
use super::task::call;
use super::{Cluster, ClusterOp, Share};
use crate::broker::Connection;

/// Longest wait for the shards' shares: a shard that cannot answer (one stopping) must not
/// hold the node's changes back for good; what arrived is restored then.
const WAIT: Duration = Duration::from_secs(5);

/// A resynchronisation in progress.
pub struct Resync {
    started: Instant,
    /// Which shards sent their share.
    got: Vec<bool>,
    share: Share,
    /// Changes held back until the restore.
    deferred: Vec<ClusterOp>,
}

impl Resync {
    /// Waits for `shards` shares; `deferred` are changes an interrupted resync held back.
    pub fn new(shards: usize, deferred: Vec<ClusterOp>) -> Resync {
        Resync {
            started: Instant::now(),
            got: vec![false; shards],
            share: Share::default(),
            deferred,
        }
    }

    /// The changes held back so far (for a resync that starts over).
    pub fn into_deferred(self) -> Vec<ClusterOp> {
        self.deferred
    }

    /// Takes `op` while waiting: a share is merged, a question (or a cache channel event) is
    /// handed back to be answered now, a count from a shard whose share has not arrived is
    /// dropped (the share will include it), anything else is held back.
    pub fn take(&mut self, op: ClusterOp) -> Option<ClusterOp> {
        match op {
            ClusterOp::Snapshot { from, share } => {
                if let Some(got) = self.got.get_mut(from) {
                    *got = true;
                }
                let Share {
                    counts,
                    members,
                    users,
                } = *share;
                self.share.counts.extend(counts);
                self.share.members.extend(members);
                self.share.users.extend(users);
                None
            }
            // Cache channel events are no share of this node: nothing to hold them back for.
            op @ (ClusterOp::Query { .. }
            | ClusterOp::CacheStore { .. }
            | ClusterOp::CacheFetch { .. }) => Some(op),
            ClusterOp::Count { from, .. } if !self.got.get(from).copied().unwrap_or(true) => None,
            op => {
                self.deferred.push(op);
                None
            }
        }
    }

    /// Whether every shard's share arrived, or the wait is over.
    pub fn complete(&self) -> bool {
        let all = self.got.iter().all(|g| *g);
        if !all && self.started.elapsed() >= WAIT {
            tracing::warn!(
                shares = self.got.iter().filter(|g| **g).count(),
                shards = self.got.len(),
                "not every shard sent its share in time; restoring what arrived"
            );
            return true;
        }
        all
    }

    /// Writes the share; answers the held-back changes, to apply next. A failure leaves the
    /// connection dropped, and the next reconnect starts over.
    pub async fn restore(
        self,
        cluster: &Cluster,
        scope: &Scope,
        conn: &mut Option<Connection>,
    ) -> Vec<ClusterOp> {
        let Resync {
            share, deferred, ..
        } = self;
        let mut counts: BTreeMap<(usize, Arc<str>), i64> = BTreeMap::new();
        for (app, channel, n) in share.counts {
            *counts.entry((app, channel)).or_default() += n as i64;
        }
        let counts: Vec<(String, String, i64)> = counts
            .into_iter()
            .map(|((app, channel), n)| (cluster.apps[app].clone(), channel.to_string(), n))
            .collect();
        let mut ok = call(conn, scope.restore_counts(&counts), "restore counts")
            .await
            .is_some();
        for (app, channel, user, info) in &share.members {
            let cmd = scope.join(&cluster.apps[*app], channel, user, info.as_deref());
            ok = ok && call(conn, cmd, "restore presence").await.is_some();
        }
        for (app, user) in &share.users {
            let cmd = scope.status(&cluster.apps[*app], user, true);
            ok = ok && call(conn, cmd, "restore users").await.is_some();
        }
        match ok {
            true => tracing::info!(
                channels = counts.len(),
                members = share.members.len(),
                users = share.users.len(),
                "re-published this node's share to Redis"
            ),
            false => tracing::warn!(
                "re-publishing this node's share failed; retried after the next reconnect"
            ),
        }
        deferred
    }
}
