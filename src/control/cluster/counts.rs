//! Subscription counts across nodes: this node's changes, coalesced per pass of the cluster
//! task into one script, and the REST reads of the cluster's totals.
//!
//! A pass takes whatever the shards queued since the last one, so a burst of subscribes
//! costs one round trip; changes that cancel out within a pass are never sent. The script
//! answers the channels whose cluster-wide total left or reached zero, which are exactly the
//! `channel_occupied` / `channel_vacated` transitions: this node alone saw each one, so each
//! webhook is sent once per cluster.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::scripts::{self, Scope};
use super::task::call;
use super::{Cluster, Output};
use crate::broker::Connection;
use crate::shard::cores::msg::ChannelFilter;
use crate::webhook::body::PusherEvent;

/// This node's subscription changes not yet sent, per (app, channel).
#[derive(Default)]
pub struct Deltas(BTreeMap<(usize, Arc<str>), i64>);

impl Deltas {
    /// Adds one change.
    pub fn add(&mut self, app: usize, channel: Arc<str>, delta: i64) {
        *self.0.entry((app, channel)).or_default() += delta;
    }

    /// Sends the pending changes and turns the cluster-wide transitions into webhook events.
    /// Changes that find Redis away are lost from the cluster's counts (logged).
    pub async fn flush(&mut self, cluster: &Cluster, scope: &Scope, conn: &mut Option<Connection>) {
        let pending: Vec<(String, String, i64)> = std::mem::take(&mut self.0)
            .into_iter()
            .filter(|(_, d)| *d != 0)
            .map(|((app, channel), d)| (cluster.apps[app].clone(), channel.to_string(), d))
            .collect();
        let Some(cmd) = scope.count(&pending) else {
            return;
        };
        let Some(answer) = call(conn, cmd, "subscription counts").await else {
            tracing::warn!(
                changes = pending.len(),
                "subscription count changes not recorded in Redis"
            );
            return;
        };
        for (app_id, channel, occupied) in scripts::transitions(answer) {
            let Some(app) = cluster.app_index(&app_id) else {
                continue;
            };
            let event = match occupied {
                true => PusherEvent::ChannelOccupied { channel },
                false => PusherEvent::ChannelVacated { channel },
            };
            cluster.push(Output::Hook(app, event));
        }
    }
}

/// Reads the cluster's counts for a REST question and queues the answer for shard `from`.
pub async fn query(
    cluster: &Cluster,
    scope: &Scope,
    conn: &mut Option<Connection>,
    (from, id): (usize, usize),
    app: usize,
    filter: &ChannelFilter,
    with_members: bool,
) {
    let (exact, name) = match filter {
        ChannelFilter::Exact(name) => (true, name.as_str()),
        ChannelFilter::Prefix(prefix) => (false, prefix.as_str()),
    };
    let cmd = scope.query(&cluster.apps[app], exact, name, with_members);
    let counts = call(conn, cmd, "channel counts")
        .await
        .and_then(scripts::counts);
    cluster.push(Output::Reply(from, id, counts));
}
