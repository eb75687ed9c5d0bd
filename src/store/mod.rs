//! Durable state of the control core: webhook endpoints, deliveries and their attempts, breaker
//! state, and scheduled notifications, behind a small async trait.
//!
//! The traits are what the webhook loop and the scheduler program against: [`SqliteStore`] for
//! one node, [`RedisStore`] shared by the nodes of a cluster, both passing the same `contract`
//! suite (compiled for tests), and [`AnyStore`] for the one the control core runs on. Futures are `!Send` on purpose: every store lives on the single
//! control-core runtime and is never shared across threads. Time is always passed in (`now_ms`,
//! unix milliseconds), so retention and leases are testable with an injected clock. A shard
//! never calls into this module.

mod any;
#[cfg(test)]
pub mod contract;
pub mod error;
pub mod redis;
pub mod sqlite;
pub mod types;

pub use any::AnyStore;
pub use error::StoreError;
pub use redis::RedisStore;
pub use sqlite::{SqliteStore, SyncMode, WebhookGauges};
pub use types::*;

use crate::webhook::breaker::BreakerState;
use crate::webhook::endpoint::EndpointPatch;
use crate::webhook::retry::NextState;

/// Endpoints, their breaker state and their statistics.
// `async fn` in a public trait warns that callers cannot require `Send` futures; the store is
// confined to one single-threaded runtime, so that bound is deliberately absent.
#[allow(async_fn_in_trait)]
pub trait EndpointStore {
    /// Stores a new endpoint; `Duplicate` when the id exists.
    async fn create_endpoint(&self, new: NewEndpoint) -> Result<Endpoint, StoreError>;
    /// One endpoint of an app; `NotFound` when absent or another app's.
    async fn get_endpoint(&self, app_id: &str, id: &str) -> Result<Endpoint, StoreError>;
    /// An app's endpoints, oldest first.
    async fn list_endpoints(&self, app_id: &str) -> Result<Vec<Endpoint>, StoreError>;
    /// Every endpoint of every app, for the control core's start.
    async fn all_endpoints(&self) -> Result<Vec<Endpoint>, StoreError>;
    /// Applies a partial update and returns the result.
    async fn update_endpoint(
        &self,
        app_id: &str,
        id: &str,
        patch: &EndpointPatch,
        now_ms: i64,
    ) -> Result<Endpoint, StoreError>;
    /// Removes an endpoint with its deliveries, attempts and breaker.
    async fn delete_endpoint(&self, app_id: &str, id: &str) -> Result<(), StoreError>;
    /// The persisted breaker; closed when none was stored.
    async fn get_breaker(&self, endpoint_id: &str) -> Result<BreakerState, StoreError>;
    /// Persists the breaker.
    async fn put_breaker(&self, endpoint_id: &str, state: &BreakerState) -> Result<(), StoreError>;
    /// Per endpoint of the app: attempts since `since_ms`, success rate, average latency,
    /// consecutive failures and breaker.
    async fn endpoint_stats(
        &self,
        app_id: &str,
        since_ms: i64,
    ) -> Result<Vec<EndpointStats>, StoreError>;
}

/// Deliveries and their attempt log.
#[allow(async_fn_in_trait)]
pub trait DeliveryStore {
    /// Records a batch of new deliveries in one transaction (the group commit): when this
    /// returns, all of them survive a kill; on error none was recorded.
    async fn insert_deliveries(&self, batch: &[NewDelivery]) -> Result<(), StoreError>;
    /// Leases, until `lease_until_ms`, up to `limit` deliveries due at or before `up_to_ms`
    /// (pending or waiting) whose lease, if any, ended by `expired_by_ms`, ordered by due time
    /// then insertion. `up_to_ms` beyond now reads ahead of due time; `expired_by_ms` beyond
    /// now takes over the leases of a previous run. Each claim hands out a new lease token
    /// ([`Delivery::lease`]).
    async fn claim_due_deliveries(
        &self,
        up_to_ms: i64,
        expired_by_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;
    /// One delivery.
    async fn get_delivery(&self, id: &str) -> Result<Delivery, StoreError>;
    /// Ends a lease: logs the attempt when one was made (`None` for a breaker or rate-limit
    /// wait, which uses no attempt) and moves the delivery to `next`. Fenced by `lease`, the
    /// token of the claim: when the lease was taken over since (it expired and was claimed
    /// again, or the delivery was replayed), nothing is written and `Ok(false)` says so, so a
    /// late owner never overwrites the newer one's result.
    async fn finish_attempt(
        &self,
        id: &str,
        lease: u64,
        attempt: Option<&AttemptRecord>,
        next: &NextState,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Ends many leases in one transaction (the group commit of outcomes): all are recorded
    /// or, on error, none. Each is fenced as in `finish_attempt`; a lease taken over is
    /// skipped without failing the others. Returns how many were recorded.
    async fn finish_attempts(&self, batch: &[Finished], now_ms: i64) -> Result<usize, StoreError>;
    /// An endpoint's attempts, newest first, `limit` per page; pass the previous page's `next`
    /// as `before` to continue.
    async fn delivery_log(
        &self,
        endpoint_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Page<LogEntry>, StoreError>;
    /// Replays a delivery of this endpoint: pending again, due now, attempts counted from zero;
    /// an attempt still in flight loses its lease.
    async fn requeue_delivery(
        &self,
        endpoint_id: &str,
        id: &str,
        now_ms: i64,
    ) -> Result<Delivery, StoreError>;
    /// Removes up to `batch` finished deliveries (delivered or failed) last changed before
    /// `older_than_ms`, their attempts, and up to `batch` older attempts of live ones. Call
    /// until it returns zero counts.
    async fn prune_deliveries(
        &self,
        older_than_ms: i64,
        batch: usize,
    ) -> Result<Pruned, StoreError>;
}

/// Scheduled notifications, for the scheduler.
#[allow(async_fn_in_trait)]
pub trait NotificationStore {
    /// Inserts a batch in one transaction. A notification whose `(app_id, client_id)` exists
    /// is not inserted again: the existing row comes back with `created: false`.
    async fn insert_notifications(
        &self,
        batch: &[NewNotification],
        now_ms: i64,
    ) -> Result<Vec<Inserted>, StoreError>;
    /// One notification of an app.
    async fn get_notification(&self, app_id: &str, id: &str) -> Result<Notification, StoreError>;
    /// Cancels a pending notification; `Conflict` with its status otherwise.
    async fn cancel_notification(
        &self,
        app_id: &str,
        id: &str,
        now_ms: i64,
    ) -> Result<Notification, StoreError>;
    /// An app's notifications, newest first, filtered by status and user.
    async fn list_notifications(
        &self,
        app_id: &str,
        filter: &NotificationFilter<'_>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Page<Notification>, StoreError>;
    /// Leases up to `limit` pending notifications due at or before `up_to_ms`, ordered by due
    /// time then insertion.
    async fn claim_due_notifications(
        &self,
        up_to_ms: i64,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<Notification>, StoreError>;
    /// Ends a lease: delivered, failed with a reason, or rescheduled.
    async fn settle_notification(
        &self,
        id: &str,
        outcome: &NotificationOutcome,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Ends many leases in one transaction, in order; per item, false when it was no longer
    /// pending (cancelled meanwhile, or settled already) and so was left unchanged.
    async fn settle_notifications(
        &self,
        batch: &[(String, NotificationOutcome)],
        now_ms: i64,
    ) -> Result<Vec<bool>, StoreError>;
    /// Per id, in one read: is it still pending? An unknown id is not.
    async fn pending_among(&self, ids: &[String]) -> Result<Vec<bool>, StoreError>;
    /// Pending notifications of an app.
    async fn count_pending_notifications(&self, app_id: &str) -> Result<u64, StoreError>;
    /// Removes up to `batch` delivered, failed or cancelled notifications last changed before
    /// `older_than_ms`; returns how many.
    async fn prune_notifications(
        &self,
        older_than_ms: i64,
        batch: usize,
    ) -> Result<u64, StoreError>;
}

/// Everything the control core persists.
pub trait Store: EndpointStore + DeliveryStore + NotificationStore {}

impl<T: EndpointStore + DeliveryStore + NotificationStore> Store for T {}
