//! The broker link on the control core: this node's events out to Redis, the other nodes'
//! events in to a shard.
//!
//! Started only with scaling on, before the control core reports ready: a node that cannot
//! reach Redis then fails to start, with the error naming the address. Two tasks run here:
//! - the publisher drains the outbound queue (filled by [`ControlMsg::Forward`] from the
//!   shards) and PUBLISHes what accumulated in one pipelined write, so a burst costs one round
//!   trip; while idle it PINGs every [`PROBE_EVERY`], so a Redis that went away is noticed
//!   (and a reconnect attempted) without waiting for the next event;
//! - the subscriber hands each other node's event to its channel's owner shard as
//!   [`ControlMsg::Remote`]; the shard then publishes it through its normal fan-out.
//!
//! The link state reaches the shards through one atomic flag, [`Shared::broker_down`], which
//! the publisher task writes after every publish and probe and the REST publish path reads
//! (503 while it is set). An atomic is enough: the flag is advisory (an event accepted just
//! before the link breaks is counted as unpublished by the publisher, never silently lost)
//! and one load per REST publish costs nothing next to the request itself.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use bytes::Bytes;

use super::msg::ControlMsg;
use crate::broker::{envelope, BrokerError, Envelope, Event, LinkOptions, Publisher, Subscriber};
use crate::config::ScalingConfig;
use crate::proto::pusher::SocketId;
use crate::ring::Endpoint;
use crate::shard::cores::owner::owner_of;
use crate::shard::Shared;

/// How often an idle publisher PINGs Redis (and, while down, tries to reconnect).
const PROBE_EVERY: Duration = Duration::from_millis(200);
/// Most events in one pipelined write.
const PUBLISH_BATCH: usize = 256;

/// An event between a shard and the control core, in either direction: forwarded to the other
/// nodes, or received from one. `frame` is the WebSocket frame the subscribers get.
#[derive(Debug)]
pub struct Relayed {
    /// The app, as an index into `Config::apps`.
    pub app: usize,
    /// The channel.
    pub channel: String,
    /// The encoded event frame.
    pub frame: Bytes,
    /// The connection that must not receive it.
    pub except: Option<SocketId>,
    /// A protocol event (`pusher_internal:member_added` …): delivered, never kept by a cache
    /// channel as its last event.
    pub internal: bool,
}

/// The link's state on the control core, shared by its tasks and the serve loop.
pub struct Relay {
    /// This node's id (the envelopes' origin, the heartbeat's name).
    node: String,
    /// App ids, in `Config::apps` order.
    apps: Vec<String>,
    /// Events waiting for the publisher.
    outbound: RefCell<Vec<Event>>,
    /// The publisher task, asleep while `outbound` is empty.
    waiting: Cell<Option<Waker>>,
    /// Other nodes' events waiting for the serve loop to hand them to a shard.
    inbound: RefCell<Vec<Relayed>>,
    /// Whether the publisher is writing a batch it took from `outbound`.
    publishing: Cell<bool>,
}

/// Connects the publisher and the subscriber of node `me`; the error names Redis's address.
async fn connect(
    scaling: &ScalingConfig,
    me: &str,
) -> Result<(Publisher, Subscriber), BrokerError> {
    let options = LinkOptions::default();
    let target = scaling.redis.clone();
    let publisher = Publisher::connect(target.clone(), &scaling.channel, me, options).await?;
    let subscriber = Subscriber::connect(target, &scaling.channel, me, options).await?;
    Ok((publisher, subscriber))
}

impl Relay {
    /// Connects to Redis as a fresh node and starts the link's tasks; the error names Redis's
    /// address. `endpoint` is the control core's end of the star (its doorbell wakes the
    /// serve loop for inbound events).
    pub async fn launch(
        scaling: &ScalingConfig,
        apps: &[String],
        shared: &Arc<Shared>,
        endpoint: &Endpoint<ControlMsg>,
    ) -> Result<Rc<Relay>, BrokerError> {
        let me = node_id();
        let link = connect(scaling, &me).await?;
        tracing::info!(node = %me, redis = %scaling.redis.address(), channel = %scaling.channel, "scaling: joined the other nodes through Redis");
        let relay = Relay::start(me, apps.to_vec(), link, shared.clone(), endpoint.bell());
        Ok(relay)
    }

    /// Starts the two tasks; `wake` is the serve loop's doorbell, rung when events arrive.
    fn start(
        node: String,
        apps: Vec<String>,
        link: (Publisher, Subscriber),
        shared: Arc<Shared>,
        wake: crate::ring::BellHandle,
    ) -> Rc<Relay> {
        let relay = Rc::new(Relay {
            node,
            apps,
            outbound: RefCell::new(Vec::new()),
            waiting: Cell::new(None),
            inbound: RefCell::new(Vec::new()),
            publishing: Cell::new(false),
        });
        let (publisher, subscriber) = link;
        monoio::spawn(publish_task(relay.clone(), publisher, shared.clone()));
        monoio::spawn(subscribe_task(relay.clone(), subscriber, shared, wake));
        relay
    }

    /// Takes a shard's message if it is the link's (a forward); else hands it back.
    pub fn take(&self, msg: ControlMsg) -> Option<ControlMsg> {
        let ControlMsg::Forward(relayed) = msg else {
            return Some(msg);
        };
        match self.to_event(*relayed) {
            Some(event) => {
                self.outbound.borrow_mut().push(event);
                if let Some(waker) = self.waiting.take() {
                    waker.wake();
                }
            }
            None => tracing::warn!("an event frame could not be read back; not forwarded"),
        }
        None
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Publishes an event the control core made (a dead node's `member_removed`) on every
    /// node: out to the others, and in to this node's owner shard like a remote event.
    pub fn broadcast(&self, relayed: Relayed) {
        let copy = Relayed {
            app: relayed.app,
            channel: relayed.channel.clone(),
            frame: relayed.frame.clone(),
            except: relayed.except,
            internal: relayed.internal,
        };
        self.take(ControlMsg::Forward(Box::new(copy)));
        self.inbound.borrow_mut().push(relayed);
    }

    /// Whether every event handed to the publisher has been written (or given up on).
    pub fn flushed(&self) -> bool {
        self.outbound.borrow().is_empty() && !self.publishing.get()
    }

    /// Whether other nodes' events wait for a shard.
    pub fn has_inbound(&self) -> bool {
        !self.inbound.borrow().is_empty()
    }

    /// Hands waiting inbound events to the shards: each to its channel's owner, so the events
    /// of one channel keep their order (two shards would each fan out at their own pace).
    pub fn deliver(&self, endpoint: &mut Endpoint<ControlMsg>) {
        let shards = endpoint.cores() - 1;
        for relayed in self.inbound.borrow_mut().drain(..) {
            let dst = owner_of(&relayed.channel, shards);
            endpoint.send(dst, ControlMsg::Remote(Box::new(relayed)));
        }
    }

    /// The wire event of a shard's frame: `data` carries the Pusher message exactly as this
    /// node's clients got it, so the receiving node sends the same bytes without re-encoding.
    fn to_event(&self, r: Relayed) -> Option<Event> {
        let text = super::cluster::frame_text(&r.frame)?;
        #[derive(serde::Deserialize)]
        struct Head {
            event: String,
        }
        let head: Head = serde_json::from_str(text).ok()?;
        Some(Event {
            app_id: self.apps.get(r.app)?.clone(),
            channel: r.channel,
            name: head.event,
            data: text.to_owned(),
            except_socket: r.except.map(|s| s.to_string()),
        })
    }

    /// The shard-side form of another node's event; `None` for an app this node lacks.
    fn relayed(&self, env: Envelope) -> Option<Relayed> {
        let event = env.event;
        let Some(app) = self.apps.iter().position(|a| *a == event.app_id) else {
            tracing::warn!(origin = %env.origin, app_id = %event.app_id, "event for an app this node does not serve; skipped");
            return None;
        };
        Some(Relayed {
            app,
            channel: event.channel,
            frame: crate::proto::pusher::text_frame(&event.data),
            except: event.except_socket.and_then(|s| s.parse().ok()),
            internal: event.name.starts_with("pusher_internal:"),
        })
    }

    /// Waits until events are queued or `timeout` passed.
    async fn outbound_ready(&self, timeout: Duration) {
        let ready = poll_fn(|cx| {
            if self.outbound.borrow().is_empty() {
                self.waiting.set(Some(cx.waker().clone()));
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        });
        let _ = monoio::time::timeout(timeout, ready).await;
    }
}

/// PUBLISHes queued events in batches; PINGs while idle; keeps `broker_down` current.
async fn publish_task(relay: Rc<Relay>, mut publisher: Publisher, shared: Arc<Shared>) {
    loop {
        relay.outbound_ready(PROBE_EVERY).await;
        let batch: Vec<Event> = {
            let mut queue = relay.outbound.borrow_mut();
            let take = queue.len().min(PUBLISH_BATCH);
            queue.drain(..take).collect()
        };
        if batch.is_empty() {
            publisher.probe().await;
        } else {
            relay.publishing.set(true);
            if let Err(e) = publisher.publish_batch(&batch).await {
                let unpublished = publisher.stats().unpublished;
                shared.unpublished.store(unpublished, Ordering::Relaxed);
                tracing::warn!(error = %e, events = batch.len(), unpublished, "events not forwarded to the other nodes");
            }
            relay.publishing.set(false);
        }
        let down = !publisher.is_up();
        if shared.broker_down.swap(down, Ordering::AcqRel) != down {
            match down {
                true => tracing::warn!("Redis link down: REST publishes answer 503"),
                false => tracing::info!("Redis link up again"),
            }
        }
    }
}

/// Receives the other nodes' events and queues them for the serve loop; keeps the count of
/// the events other nodes numbered that never arrived current for `/metrics`.
async fn subscribe_task(
    relay: Rc<Relay>,
    mut subscriber: Subscriber,
    shared: Arc<Shared>,
    wake: crate::ring::BellHandle,
) {
    loop {
        let env = subscriber.next().await;
        let missed = subscriber.stats().missed;
        shared.missed_from_nodes.store(missed, Ordering::Relaxed);
        if let Some(relayed) = relay.relayed(env) {
            relay.inbound.borrow_mut().push(relayed);
            wake.ring();
        }
    }
}

/// A fresh node id for this process.
fn node_id() -> String {
    envelope::node_id(fastrand::u64(..))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::pusher::{channel_event, text_frame};

    fn relay() -> Relay {
        Relay {
            node: "me".into(),
            apps: vec!["1".into(), "424242".into()],
            outbound: RefCell::new(Vec::new()),
            waiting: Cell::new(None),
            inbound: RefCell::new(Vec::new()),
            publishing: Cell::new(false),
        }
    }

    #[test]
    fn a_frame_crosses_nodes_byte_for_byte_with_its_app_and_exclusion() {
        let relay = relay();
        // Over 125 bytes, so the frame has the longer header.
        let data = format!("\"{}\"", "x".repeat(300));
        let json = channel_event("order.shipped", "private-orders", &data, Some("u7"));
        let sent = Relayed {
            app: 1,
            channel: "private-orders".into(),
            frame: text_frame(&json),
            except: Some(SocketId::new(12, 34)),
            internal: false,
        };
        let frame = sent.frame.clone();
        let event = relay.to_event(sent).expect("a readable frame");
        assert_eq!(
            (event.app_id.as_str(), event.name.as_str()),
            ("424242", "order.shipped")
        );
        assert_eq!(event.except_socket.as_deref(), Some("12.34"));
        let got = relay
            .relayed(Envelope::new("peer", 1, event))
            .expect("a known app");
        assert_eq!((got.app, got.channel.as_str()), (1, "private-orders"));
        assert_eq!(got.frame, frame);
        assert_eq!(got.except, Some(SocketId::new(12, 34)));
        assert!(!got.internal);
    }

    #[test]
    fn an_event_for_an_app_this_node_lacks_is_skipped() {
        let relay = relay();
        let event = Event {
            app_id: "999".into(),
            channel: "c".into(),
            name: "e".into(),
            data: "{}".into(),
            except_socket: None,
        };
        assert!(relay.relayed(Envelope::new("peer", 1, event)).is_none());
    }
}
