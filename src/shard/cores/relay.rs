//! The shard's side of the Redis link: application events out to the other nodes, theirs in.
//!
//! With scaling on, every application event published here (REST or client event) is also
//! handed to the control core as a fire-and-forget [`ControlMsg::Forward`]; the control core
//! PUBLISHes it (see `control::relay`). Another node's event comes back as
//! [`ControlMsg::Remote`] to one shard, which publishes it like a local one through
//! [`fanout::publish_event`], so it reaches every core's subscribers and the cache channels.
//! A node never re-delivers its own events: the subscriber drops them by origin, and a
//! remote event is never forwarded again.

use bytes::Bytes;

use super::{control, fanout};
use crate::control::{ControlMsg, Relayed};
use crate::proto::pusher::SocketId;
use crate::shard::state::Shard;

/// Publishes an application event on this node and, with scaling on, forwards it to the
/// other nodes and, on a cache channel, records it as the cluster's last event.
pub fn publish_event(
    shard: &Shard,
    app: usize,
    channel: &str,
    frame: Bytes,
    except: Option<SocketId>,
) {
    if shard.config.scaling.is_some() {
        let relayed = Relayed {
            app,
            channel: channel.to_owned(),
            frame: frame.clone(),
            except,
            internal: false,
        };
        control::tell(shard, ControlMsg::Forward(Box::new(relayed)));
        super::cluster_cache::store(shard, app, channel, &frame);
    }
    fanout::publish_event(shard, app, channel, frame, except);
}

/// Publishes another node's event on this node (never forwarded again), or runs the command
/// it carries.
pub fn on_remote(shard: &Shard, event: Relayed) {
    if super::cluster::on_remote_command(shard, &event)
        || super::records_relay::on_remote(shard, &event)
    {
        return;
    }
    match event.internal {
        true => {
            fanout::publish_everywhere(shard, event.app, &event.channel, event.frame, event.except)
        }
        false => fanout::publish_event(shard, event.app, &event.channel, event.frame, event.except),
    }
}
