//! What shards ask the control core and what it answers: the complete list of control-core
//! operations.
//!
//! Payloads are boxed so that a ring slot stays two words plus a tag, whatever an operation
//! carries. Everything here is plain data; it performs no I/O.

use bytes::Bytes;

pub use super::relay::Relayed;
use crate::store::{Delivery, Endpoint, EndpointStats, LogEntry, NewEndpoint, Page, StoreError};
use crate::store::{Inserted, NewNotification, Notification, NotificationStatus};
use crate::webhook::endpoint::EndpointPatch;

/// A message on the control star.
pub enum ControlMsg {
    /// Shard → control core: run `request` and answer `id` to core `from`.
    Request {
        /// The asking shard.
        from: usize,
        /// The asking shard's id for this question.
        id: usize,
        /// What to do.
        request: Box<Request>,
    },
    /// Control core → shard: the answer to question `id`.
    Reply {
        /// The question's id.
        id: usize,
        /// The outcome.
        reply: Box<Result<Answer, StoreError>>,
    },
    /// Shard → control core, fire-and-forget: a Pusher channel webhook event of app `app`
    /// (index in `Config::apps`), decided by the core that owns the channel.
    PusherEvent {
        /// The app.
        app: usize,
        /// The event.
        event: Box<crate::webhook::body::PusherEvent>,
    },
    /// Shard → control core, no answer: send this event to the other nodes (scaling on).
    Forward(Box<Relayed>),
    /// Control core → shard: another node's event, to publish on this node.
    Remote(Box<Relayed>),
    /// Control core → shard: publish a due notification's frame through the fan-out.
    Notify(Box<Notify>),
    /// Shard → control core, answered by [`ControlMsg::ClusterDone`]: a change of this
    /// node's share of the cluster state (scaling on).
    Cluster(Box<super::cluster::ClusterOp>),
    /// Control core → shard: the cluster's outcome of a [`ControlMsg::Cluster`].
    ClusterDone(Box<super::cluster::ClusterDone>),
}

/// A notification the control core hands a shard to publish.
#[derive(Debug)]
pub struct Notify {
    /// The app's index in `Config::apps`.
    pub app: usize,
    /// The channel.
    pub channel: String,
    /// The encoded `pusher` event frame.
    pub frame: Bytes,
}

/// An operation on the store, always scoped to one app.
#[derive(Debug)]
pub enum Request {
    /// Store a new endpoint (validated, with its id and secret chosen by the shard).
    CreateEndpoint(NewEndpoint),
    /// The app's endpoints.
    ListEndpoints {
        /// The app.
        app_id: String,
    },
    /// One endpoint.
    GetEndpoint {
        /// The app.
        app_id: String,
        /// The endpoint.
        id: String,
    },
    /// Apply a validated partial update.
    UpdateEndpoint {
        /// The app.
        app_id: String,
        /// The endpoint.
        id: String,
        /// The change.
        patch: EndpointPatch,
    },
    /// Remove an endpoint with its deliveries.
    DeleteEndpoint {
        /// The app.
        app_id: String,
        /// The endpoint.
        id: String,
    },
    /// A page of an endpoint's delivery log, newest first.
    DeliveryLog {
        /// The app (the endpoint must be its own).
        app_id: String,
        /// The endpoint.
        id: String,
        /// The previous page's cursor.
        before: Option<i64>,
        /// Page size.
        limit: usize,
    },
    /// Record the deliveries of published events (answered once they are committed).
    Publish {
        /// The app.
        app_id: String,
        /// The events, as accepted.
        events: Vec<Published>,
    },
    /// Per-endpoint monitoring figures since `since_ms`.
    Stats {
        /// The app.
        app_id: String,
        /// Start of the window, unix ms.
        since_ms: i64,
    },
    /// Record a test delivery to one endpoint, due now.
    TestEndpoint {
        /// The app.
        app_id: String,
        /// The endpoint.
        id: String,
    },
    /// Replay one delivery of an endpoint with the same `webhook-id`.
    RetryDelivery {
        /// The app.
        app_id: String,
        /// The endpoint.
        id: String,
        /// The delivery.
        delivery_id: String,
    },
    /// Store validated notifications (idempotent by client id) before answering 201.
    ScheduleNotifications(Vec<NewNotification>),
    /// One notification.
    GetNotification {
        /// The app.
        app_id: String,
        /// The notification.
        id: String,
    },
    /// Cancel a pending notification.
    CancelNotification {
        /// The app.
        app_id: String,
        /// The notification.
        id: String,
    },
    /// A page of an app's notifications, newest first.
    ListNotifications {
        /// The app.
        app_id: String,
        /// Only this status.
        status: Option<NotificationStatus>,
        /// Only this user.
        user_id: Option<String>,
        /// The previous page's cursor.
        before: Option<i64>,
        /// Page size.
        limit: usize,
    },
}

/// A successful outcome.
#[derive(Debug)]
pub enum Answer {
    /// One endpoint (created, shown or updated); boxed, being far larger than the others.
    Endpoint(Box<Endpoint>),
    /// A listing.
    Endpoints(Vec<Endpoint>),
    /// The endpoint is gone.
    Deleted,
    /// A page of the delivery log.
    Log(Page<LogEntry>),
    /// Monitoring figures.
    Stats(Vec<EndpointStats>),
    /// One delivery, recorded or requeued (boxed: it carries its body).
    Delivery(Box<Delivery>),
    /// Deliveries recorded for a publish.
    Recorded(usize),
    /// Stored notifications, in request order.
    Scheduled(Vec<Inserted>),
    /// One notification (shown or cancelled).
    Notification(Box<Notification>),
    /// A page of notifications.
    Notifications(Page<Notification>),
    /// The cluster's channel counts (scaling on); `None` when Redis could not be asked.
    ClusterCounts(Option<Box<super::cluster::ClusterCounts>>),
}

impl Request {
    /// Whether a success changes the endpoints (the directory is then reloaded).
    pub fn changes_endpoints(&self) -> bool {
        matches!(
            self,
            Request::CreateEndpoint(_)
                | Request::UpdateEndpoint { .. }
                | Request::DeleteEndpoint { .. }
        )
    }
}

/// An event published through the REST API, as the webhooks see it.
#[derive(Debug, Clone)]
pub struct Published {
    /// The event name.
    pub name: String,
    /// Its channels.
    pub channels: Vec<String>,
    /// Its `data` string.
    pub data: String,
}
