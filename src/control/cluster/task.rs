//! The cluster task: one Redis connection, driven from one task (a connection is not
//! cancel-safe), applying the shards' changes in order, beating and sweeping in between.
//!
//! Each change or sweep runs under [`CALL_TIMEOUT`]; a call that fails or times out drops the
//! connection (its reply could still arrive and would be read as the next one's), answers the
//! change with no cluster outcome, and the next pass reconnects with the usual backoff.

use std::rc::Rc;
use std::time::{Duration, Instant};

use super::cache::{self, CacheWrites};
use super::counts::{self, Deltas};
use super::leave;
use super::limits;
use super::resync::Resync;
use super::scripts::{self, Scope};
use super::{Cluster, ClusterDone, ClusterOp, Command, Output};
use crate::broker::heartbeat::{Membership, DEFAULT_TTL};
use crate::broker::link::Redial;
use crate::broker::{liveness, resp, BrokerError, Connection, LinkOptions};
use crate::config::ScalingConfig;
use crate::control::relay::Relayed;
use crate::proto::pusher::{self, text_frame};
use crate::webhook::body::PusherEvent;

/// Longest wait for one script or one beat.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// What the task needs besides its connection.
pub struct Setup {
    membership: Membership,
    scope: Scope,
    redial: Redial,
}

impl Setup {
    /// The setup of node `node`.
    pub fn new(scaling: &ScalingConfig, node: &str, options: LinkOptions) -> Setup {
        Setup {
            membership: Membership::new(&scaling.key_prefix, node, DEFAULT_TTL),
            scope: Scope {
                prefix: scaling.key_prefix.clone(),
                node: node.to_owned(),
            },
            redial: Redial::new(scaling.redis.clone(), options, fastrand::u64(..)),
        }
    }
}

/// Runs forever: changes as they come, a beat and a sweep when due.
pub async fn run(cluster: Rc<Cluster>, conn: Connection, mut setup: Setup) {
    let mut conn = Some(conn);
    let mut retry_at = Instant::now();
    let mut next_beat = Instant::now();
    let mut next_sweep = Instant::now() + setup.membership.sweep_every();
    let mut next_limits = Instant::now();
    let mut resync: Option<Resync> = None;
    loop {
        cluster
            .ready_until(next_beat.min(next_sweep).min(next_limits))
            .await;
        if conn.is_none() && !cluster.left.get() && Instant::now() >= retry_at {
            conn = reconnect(&mut setup.redial, &mut retry_at).await;
            if conn.is_some() {
                // Redis may have lost this node's share (a restart, a sweep): publish it again.
                let deferred = resync.take().map_or_else(Vec::new, Resync::into_deferred);
                resync = Some(Resync::new(cluster.shards, deferred));
                for dst in 0..cluster.shards {
                    cluster.push(Output::Shard(dst, ClusterDone::Snapshot));
                }
            }
        }
        let mut ops: Vec<ClusterOp> = cluster.queue.borrow_mut().drain(..).collect();
        if let Some(r) = resync.as_mut() {
            ops = ops.into_iter().filter_map(|op| r.take(op)).collect();
        }
        if resync.as_ref().is_some_and(Resync::complete) {
            if let Some(done) = resync.take() {
                let mut deferred = done.restore(&cluster, &setup.scope, &mut conn).await;
                deferred.append(&mut ops);
                ops = deferred;
            }
        }
        if cluster.left.get() {
            // The node's counts are gone from Redis with its share; a change now would
            // recreate them.
            ops.retain(|op| !matches!(op, ClusterOp::Count { .. }));
        }
        apply_all(&cluster, &setup.scope, &mut conn, ops).await;
        if cluster.leaving() && !cluster.left.get() {
            leave::run(&cluster, &setup.scope, &setup.membership, &mut conn).await;
        }
        let now = Instant::now();
        if now >= next_beat {
            next_beat = now + setup.membership.beat_every();
            if let Some(c) = conn.as_mut() {
                let beat = timed(liveness::beat(c, &setup.membership)).await;
                keep(&mut conn, beat, "heartbeat");
            }
        }
        if now >= next_sweep {
            next_sweep = now + setup.membership.sweep_every();
            sweep(&cluster, &setup, &mut conn).await;
        }
        if now >= next_limits {
            next_limits = now + limits::REFRESH;
            let registry = setup.membership.registry_key();
            limits::refresh(
                &cluster.shared,
                &cluster.apps,
                &setup.scope,
                &registry,
                &mut conn,
            )
            .await;
        }
    }
}

/// Applies changes in order, the counts and the cache channel events among them batched into
/// one script each up to the next other change (a question asked after a subscribe sees it).
async fn apply_all(
    cluster: &Cluster,
    scope: &Scope,
    conn: &mut Option<Connection>,
    ops: Vec<ClusterOp>,
) {
    let mut deltas = Deltas::default();
    let mut writes = CacheWrites::default();
    for op in ops {
        match op {
            ClusterOp::Count {
                app,
                channel,
                delta,
                ..
            } => deltas.add(app, channel, delta),
            ClusterOp::CacheStore {
                app,
                channel,
                frame,
                ttl_ms,
            } => writes.add(app, channel, frame, ttl_ms),
            op => {
                deltas.flush(cluster, scope, conn).await;
                writes.flush(cluster, scope, conn).await;
                apply(cluster, scope, conn, op).await;
            }
        }
    }
    deltas.flush(cluster, scope, conn).await;
    writes.flush(cluster, scope, conn).await;
}

async fn reconnect(redial: &mut Redial, retry_at: &mut Instant) -> Option<Connection> {
    match Connection::open(&redial.target, redial.options.connect_timeout).await {
        Ok(c) => {
            redial.succeeded();
            tracing::info!(redis = %c.address(), "cluster link up again; the next beat rejoins");
            Some(c)
        }
        Err(e) => {
            let delay = redial.failed();
            *retry_at = Instant::now() + delay;
            tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "cluster link down: presence is this node's own until it is back");
            None
        }
    }
}

async fn timed<T>(
    call: impl std::future::Future<Output = Result<T, BrokerError>>,
) -> Result<T, BrokerError> {
    match monoio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(result) => result,
        Err(_) => Err(BrokerError::Protocol(format!(
            "no answer within {} ms",
            CALL_TIMEOUT.as_millis()
        ))),
    }
}

/// The call's value; on failure logs it and drops the connection.
fn keep<T>(conn: &mut Option<Connection>, result: Result<T, BrokerError>, what: &str) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(error = %e, call = what, "cluster call failed; reconnecting");
            *conn = None;
            None
        }
    }
}

/// Runs one script and reads its array of strings.
async fn script(conn: &mut Connection, cmd: Vec<u8>) -> Result<Vec<String>, BrokerError> {
    conn.write(cmd).await?;
    resp::strings(conn.read_frame().await?)
}

pub(super) async fn call(
    conn: &mut Option<Connection>,
    cmd: Vec<u8>,
    what: &str,
) -> Option<Vec<String>> {
    let c = conn.as_mut()?;
    let result = timed(script(c, cmd)).await;
    keep(conn, result, what)
}

/// Applies one change and queues its outcome for the asking shard.
async fn apply(cluster: &Cluster, scope: &Scope, conn: &mut Option<Connection>, op: ClusterOp) {
    match op {
        // Handled by `apply_all` and `Resync`; here only if one slips through alone.
        ClusterOp::Snapshot { .. } => {}
        ClusterOp::Count {
            app,
            channel,
            delta,
            ..
        } => {
            let mut one = Deltas::default();
            one.add(app, channel, delta);
            one.flush(cluster, scope, conn).await;
        }
        ClusterOp::CacheStore {
            app,
            channel,
            frame,
            ttl_ms,
        } => {
            let mut one = CacheWrites::default();
            one.add(app, channel, frame, ttl_ms);
            one.flush(cluster, scope, conn).await;
        }
        ClusterOp::CacheFetch {
            from,
            app,
            channel,
            conn: subscriber,
        } => cache::fetch(cluster, scope, conn, (from, app), channel, subscriber).await,
        ClusterOp::Query {
            from,
            id,
            app,
            filter,
            with_members,
        } => counts::query(cluster, scope, conn, (from, id), app, &filter, with_members).await,
        ClusterOp::Join {
            from,
            app,
            channel,
            user_id,
            info,
            conn: joining,
            new_here,
        } => {
            let app_id = &cluster.apps[app];
            let cmd = scope.join(app_id, &channel, &user_id, info.as_deref());
            let answer = call(conn, cmd, "presence join").await;
            let cluster_answer = answer.and_then(scripts::joined);
            let done = ClusterDone::Joined {
                app,
                channel,
                user_id,
                info,
                conn: joining,
                new_here,
                cluster: cluster_answer,
            };
            cluster.push(Output::Shard(from, done));
        }
        ClusterOp::Status {
            from,
            app,
            user,
            online,
        } => {
            let cmd = scope.status(&cluster.apps[app], &user, online);
            let flipped = call(conn, cmd, "user status").await.map(|a| is_one(&a));
            let done = ClusterDone::Status {
                app,
                user,
                online,
                flipped,
            };
            cluster.push(Output::Shard(from, done));
        }
        ClusterOp::IsOnline {
            from,
            app,
            user,
            watcher,
        } => {
            let cmd = scope.is_online(&cluster.apps[app], &user);
            let online = call(conn, cmd, "user status").await.map(|a| is_one(&a));
            let done = ClusterDone::IsOnline {
                app,
                user,
                watcher,
                online,
            };
            cluster.push(Output::Shard(from, done));
        }
        ClusterOp::Leave {
            from,
            app,
            channel,
            user_id,
        } => {
            let cmd = scope.leave(&cluster.apps[app], &channel, &user_id);
            let answer = call(conn, cmd, "presence leave").await;
            let removed = answer.map(|a| is_one(&a));
            cluster.push(Output::Shard(
                from,
                ClusterDone::Left {
                    app,
                    channel,
                    user_id,
                    removed,
                },
            ));
        }
    }
}

/// Whether a script answered `{1}`.
fn is_one(answer: &[String]) -> bool {
    answer.first().is_some_and(|v| v == "1")
}

/// Finds dead nodes; claims each and, for those this node claimed, removes the share and
/// announces the members the cluster lost.
async fn sweep(cluster: &Cluster, setup: &Setup, conn: &mut Option<Connection>) {
    let Some(c) = conn.as_mut() else { return };
    let result = timed(liveness::dead(c, &setup.membership)).await;
    let Some(dead) = keep(conn, result, "sweep") else {
        return;
    };
    let registry = setup.membership.registry_key();
    for node in dead {
        let cmd = setup.scope.sweep(&node, &registry);
        let Some(lost) = call(conn, cmd, "sweep of a dead node").await else {
            return;
        };
        let Some(swept) = scripts::swept(lost) else {
            continue;
        };
        tracing::warn!(node = %node, members_removed = swept.members.len(), channels_vacated = swept.vacated.len(), "node stopped beating; this node removed its share");
        announce_swept(cluster, swept);
    }
}

/// Announces what the cluster lost with a node's share: `member_removed` on every node and
/// its webhook per member, `channel_vacated` per channel, `offline` per user.
pub(super) fn announce_swept(cluster: &Cluster, swept: scripts::Swept) {
    for (app_id, channel, user_id) in swept.members {
        announce_removed(cluster, &app_id, channel, user_id);
    }
    for (app_id, channel) in swept.vacated {
        if let Some(app) = cluster.app_index(&app_id) {
            cluster.push(Output::Hook(app, PusherEvent::ChannelVacated { channel }));
        }
    }
    for (app_id, user) in swept.offline {
        if let Some(app) = cluster.app_index(&app_id) {
            let relayed = Command::Status(&user, false).relayed(app);
            cluster.push(Output::Broadcast(relayed));
        }
    }
}

/// `member_removed` on every node for a member lost with a dead node, and its webhook.
fn announce_removed(cluster: &Cluster, app_id: &str, channel: String, user_id: String) {
    let Some(app) = cluster.app_index(app_id) else {
        tracing::warn!(
            app_id,
            "a dead node's member of an app this node does not serve"
        );
        return;
    };
    let frame = text_frame(&pusher::member_removed(&channel, &user_id));
    cluster.push(Output::Broadcast(Relayed {
        app,
        channel: channel.clone(),
        frame,
        except: None,
        internal: true,
    }));
    cluster.push(Output::Hook(
        app,
        PusherEvent::MemberRemoved { channel, user_id },
    ));
}
