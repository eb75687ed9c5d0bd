//! Channel queries: `GET /apps/{id}/channels`, `/channels/{name}`, `/channels/{name}/users`.
//!
//! Every count is gathered from all cores at request time: subscription counts from each
//! core's channel index, user counts and member ids from the presence channel's owner.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::proto::http::Response;
use crate::proto::pusher::info::Info;
use crate::proto::pusher::{self, ChannelKind};
use crate::shard::{ChannelFilter, Port, Query, QueryPart};

/// Subscription and user counts per channel, summed over cores.
#[derive(Default)]
pub struct Counts {
    /// Channel → (subscriptions, users).
    pub channels: BTreeMap<Arc<str>, (u64, u64)>,
    /// Member ids of an exact channel.
    pub members: Vec<Arc<str>>,
}

/// Asks every core about the channels `filter` selects; with scaling on, the cluster's
/// counts in Redis (this node's own while Redis cannot be asked).
pub async fn gather(
    port: &Port,
    app: usize,
    filter: ChannelFilter,
    with_members: bool,
) -> Option<Counts> {
    if port.config().scaling.is_some() {
        let cluster = port.cluster_counts(app, filter.clone(), with_members).await;
        if let Some(cluster) = cluster {
            return Some(from_cluster(cluster));
        }
    }
    let parts = port
        .ask_all(Query {
            app,
            filter,
            with_members,
        })
        .await?;
    Some(merge(parts))
}

fn from_cluster(cluster: crate::control::ClusterCounts) -> Counts {
    Counts {
        channels: cluster
            .channels
            .into_iter()
            .map(|(name, s, u)| (Arc::from(name), (s, u)))
            .collect(),
        members: cluster.members.into_iter().map(Arc::from).collect(),
    }
}

fn merge(parts: Vec<QueryPart>) -> Counts {
    let mut counts = Counts::default();
    for part in parts {
        for (name, n) in part.subscriptions {
            counts.channels.entry(name).or_default().0 += n;
        }
        for (name, n) in part.users {
            counts.channels.entry(name).or_default().1 += n;
        }
        counts.members.extend(part.members);
    }
    counts
}

fn unavailable() -> Response {
    Response::error(503, "a core did not answer in time; retry the request")
}

/// Which counts `info=` asks for, or the 400 that refuses it.
fn attributes(info: Option<&str>, presence_only: bool) -> Result<Info, Response> {
    Info::parse(info, presence_only).map_err(|e| Response::error(400, &e.to_string()))
}

/// `GET /apps/{id}/channels`: occupied channels, optionally filtered by prefix.
pub async fn list(port: &Port, app: usize, prefix: &str, info: Option<&str>) -> Response {
    let asked = match attributes(info, prefix.starts_with("presence-")) {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let Some(counts) = gather(port, app, ChannelFilter::Prefix(prefix.to_owned()), false).await
    else {
        return unavailable();
    };
    let mut channels = Map::new();
    for (name, (s, u)) in counts
        .channels
        .iter()
        .filter(|(_, (s, u))| *s > 0 || *u > 0)
    {
        channels.insert(name.to_string(), Value::Object(asked.attributes(*s, *u)));
    }
    Response::json(200, json!({ "channels": channels }).to_string())
}

/// `GET /apps/{id}/channels/{name}`: whether it is occupied, with the asked counts.
pub async fn one(port: &Port, app: usize, channel: &str, info: Option<&str>) -> Response {
    let presence = matches!(pusher::channel_kind(channel), Ok(ChannelKind::Presence));
    if let Err(e) = pusher::channel_kind(channel) {
        return Response::error(400, &format!("invalid channel '{channel}': {e}"));
    }
    let asked = match attributes(info, presence) {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let Some(counts) = gather(port, app, ChannelFilter::Exact(channel.to_owned()), false).await
    else {
        return unavailable();
    };
    let (s, u) = counts.channels.get(channel).copied().unwrap_or_default();
    let mut body = Map::new();
    body.insert("occupied".into(), json!(s > 0));
    body.extend(asked.attributes(s, u));
    Response::json(200, Value::Object(body).to_string())
}

/// `GET /apps/{id}/channels/{name}/users`: the members of a presence channel.
pub async fn users(port: &Port, app: usize, channel: &str) -> Response {
    if !matches!(pusher::channel_kind(channel), Ok(ChannelKind::Presence)) {
        return Response::error(400, &format!("'{channel}' is not a presence channel"));
    }
    let Some(counts) = gather(port, app, ChannelFilter::Exact(channel.to_owned()), true).await
    else {
        return unavailable();
    };
    let users: Vec<Value> = counts
        .members
        .iter()
        .map(|id| json!({ "id": &**id }))
        .collect();
    Response::json(200, json!({ "users": users }).to_string())
}

/// The `channels` object for `info=` on a publish: counts of the given channels.
pub async fn info_for(
    port: &Port,
    app: usize,
    names: &[String],
    info: &str,
) -> Result<Value, Response> {
    let all_presence = names
        .iter()
        .all(|n| matches!(pusher::channel_kind(n), Ok(ChannelKind::Presence)));
    let asked = attributes(Some(info), all_presence)?;
    let Some(counts) = gather(port, app, ChannelFilter::Prefix(String::new()), false).await else {
        return Err(unavailable());
    };
    let mut channels = Map::new();
    for name in names {
        let (s, u) = counts
            .channels
            .get(name.as_str())
            .copied()
            .unwrap_or_default();
        channels.insert(name.clone(), Value::Object(asked.attributes(s, u)));
    }
    Ok(Value::Object(channels))
}
