//! The narrow interface the REST API gets to a shard: which apps exist, the counters, the
//! per-app publish budget, publishing, cross-core reads, terminating a user and asking the
//! control core.
//!
//! The handlers live in `api`, which the shard never imports: [`start`](super::start) is given
//! a [`RestHandler`] and calls it for each request with a [`Port`]. Nothing here exposes the
//! shard's connections, rings or indexes.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use bytes::Bytes;

pub use super::cores::collections::Registration;
use super::cores::{collections, control, fanout, gather, relay};
use super::state::{Query, QueryPart, Shard, Shared};
use crate::config::Config;
use crate::control::{Answer, Request};
use crate::proto::api::realtime::RealtimeError;
use crate::proto::api::records::RecordChange;
use crate::proto::http::{RequestHead, Response};
use crate::proto::pusher::SocketId;
use crate::store::StoreError;

/// Answers one REST request (head, complete body, Unix time in seconds) through a [`Port`].
pub type RestHandler = for<'a> fn(
    &'a Port,
    &'a RequestHead,
    &'a [u8],
    u64,
) -> Pin<Box<dyn Future<Output = Response> + 'a>>;

/// One shard as the REST API sees it.
pub struct Port(Rc<Shard>);

impl Port {
    /// The port of `shard`.
    pub(crate) fn new(shard: Rc<Shard>) -> Self {
        Port(shard)
    }

    /// The validated configuration.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// App `app`'s secret, ready to check a REST request's signature with.
    pub fn signing_key(&self, app: usize) -> &crate::proto::api::SigningKey {
        &self.0.signing_keys[app]
    }

    /// The process-wide counters (connections, per-shard stats).
    pub fn shared(&self) -> &Shared {
        &self.0.shared
    }

    /// Index of the app whose id is `id`.
    pub fn app_by_id(&self, id: &str) -> Option<usize> {
        self.0.app_by_id(id)
    }

    /// Takes `n` events from the app's per-second REST budget; false when over it.
    pub fn take_backend_budget(&self, app: usize, n: u32) -> bool {
        self.0.take_backend_budget(app, n)
    }

    /// Applies everything other cores already sent this one, so that a publish is ordered
    /// after whatever its client saw acknowledged before (see [`fanout::catch_up`]).
    pub fn catch_up(&self) {
        fanout::catch_up(&self.0);
    }

    /// Publishes an encoded event frame on `channel`, skipping the connection `except`.
    pub fn publish(&self, app: usize, channel: &str, frame: Bytes, except: Option<SocketId>) {
        relay::publish_event(&self.0, app, channel, frame, except);
    }

    /// Every core's part of the answer to `query`, or `None` when one did not answer in time.
    pub async fn ask_all(&self, query: Query) -> Option<Vec<QueryPart>> {
        gather::ask_all(&self.0, query).await
    }

    /// Registers a socket's collection filter on the socket's core; answers the channel name.
    pub async fn register_collection(&self, reg: Registration) -> Result<String, RealtimeError> {
        collections::subscribe(&self.0, reg).await
    }

    /// Delivers record changes to the collection subscribers on every core, skipping `except`.
    pub fn publish_changes(
        &self,
        app: usize,
        changes: Vec<RecordChange>,
        except: Option<SocketId>,
    ) {
        collections::publish(&self.0, app, changes, except);
    }

    /// Scaling on and the Redis link down: a publish would not reach the other nodes.
    pub fn link_down(&self) -> bool {
        self.0.config.scaling.is_some()
            && self
                .0
                .shared
                .broker_down
                .load(std::sync::atomic::Ordering::Acquire)
    }

    /// The routes of the app's webhook endpoints for published events (see [`Shared`]): read
    /// once per publish, however many events it carries.
    pub fn webhook_routes(&self, app: usize) -> std::sync::Arc<[crate::webhook::route::Route]> {
        match self.0.shared.webhook_routes[app].read() {
            Ok(routes) => routes.clone(),
            // A writer panicked mid-store; the routes it left are still whole (an Arc swap).
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Runs `request` on the control core; `None` when it did not answer in time.
    pub async fn ask_control(&self, request: Request) -> Option<Result<Answer, StoreError>> {
        control::ask(&self.0, request).await
    }

    /// The cluster's counts (scaling on); `None` when Redis or the control core did not
    /// answer.
    pub async fn cluster_counts(
        &self,
        app: usize,
        filter: super::ChannelFilter,
        with_members: bool,
    ) -> Option<crate::control::ClusterCounts> {
        super::cores::cluster::query(&self.0, app, filter, with_members).await
    }

    /// Closes every connection of `user_id` in `app`, on every core.
    pub fn terminate_user(&self, app: usize, user_id: &str) {
        super::cores::cluster::terminate_everywhere(&self.0, app, user_id);
    }
}
