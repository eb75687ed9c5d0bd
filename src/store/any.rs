//! The store the control core runs on: SQLite in the data directory for a single node, or the
//! cluster's shared Redis store when scaling is on. One enum rather than a type parameter, so
//! the control core's loops keep one concrete type and neither back end costs a virtual call.

use std::path::Path;
use std::time::Duration;

use super::redis::RedisStore;
use super::sqlite::{SqliteStore, WebhookGauges};
use super::types::*;
use super::{DeliveryStore, EndpointStore, NotificationStore, StoreError};
use crate::config::ScalingConfig;
use crate::webhook::breaker::BreakerState;
use crate::webhook::endpoint::EndpointPatch;
use crate::webhook::retry::NextState;

/// Either back end.
pub enum AnyStore {
    /// This node's own file.
    Sqlite(SqliteStore),
    /// Shared by every node of the cluster.
    Redis(RedisStore),
}

impl AnyStore {
    /// The Redis store of the cluster when `scaling` is set (connected on first use; call
    /// [`AnyStore::check`] from the runtime that uses it), else SQLite in `dir`.
    pub fn open(
        dir: &Path,
        scaling: Option<&ScalingConfig>,
        connect_timeout: Duration,
    ) -> Result<AnyStore, StoreError> {
        Ok(match scaling {
            Some(s) => AnyStore::Redis(RedisStore::new(
                s.redis.clone(),
                &s.key_prefix,
                connect_timeout,
            )),
            None => AnyStore::Sqlite(SqliteStore::open(dir)?),
        })
    }

    /// The queue depth and the breakers open at `now_ms`, for the `/metrics` gauges.
    pub async fn webhook_gauges(&self, now_ms: i64) -> Result<WebhookGauges, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.webhook_gauges(now_ms),
            AnyStore::Redis(r) => r.webhook_gauges(now_ms).await,
        }
    }

    /// Reaches the back end once: a Redis that cannot be reached fails the start.
    pub async fn check(&self) -> Result<(), StoreError> {
        match self {
            AnyStore::Sqlite(_) => Ok(()),
            AnyStore::Redis(r) => r.check().await,
        }
    }
}

/// Implements a store trait for [`AnyStore`] by handing each call to the back end.
macro_rules! delegate {
    ($trait:ident { $(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)+ }) => {
        impl $trait for AnyStore {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> Result<$ret, StoreError> {
                    match self {
                        AnyStore::Sqlite(s) => s.$name($($arg),*).await,
                        AnyStore::Redis(s) => s.$name($($arg),*).await,
                    }
                }
            )+
        }
    };
}

delegate!(EndpointStore {
    fn create_endpoint(&self, new: NewEndpoint) -> Endpoint;
    fn get_endpoint(&self, app_id: &str, id: &str) -> Endpoint;
    fn list_endpoints(&self, app_id: &str) -> Vec<Endpoint>;
    fn all_endpoints(&self) -> Vec<Endpoint>;
    fn update_endpoint(&self, app_id: &str, id: &str, patch: &EndpointPatch, now_ms: i64) -> Endpoint;
    fn delete_endpoint(&self, app_id: &str, id: &str) -> ();
    fn get_breaker(&self, endpoint_id: &str) -> BreakerState;
    fn put_breaker(&self, endpoint_id: &str, state: &BreakerState) -> ();
    fn endpoint_stats(&self, app_id: &str, since_ms: i64) -> Vec<EndpointStats>;
});

delegate!(DeliveryStore {
    fn insert_deliveries(&self, batch: &[NewDelivery]) -> ();
    fn claim_due_deliveries(&self, up_to_ms: i64, expired_by_ms: i64, lease_until_ms: i64, limit: usize) -> Vec<Delivery>;
    fn get_delivery(&self, id: &str) -> Delivery;
    fn finish_attempt(&self, id: &str, lease: u64, attempt: Option<&AttemptRecord>, next: &NextState, now_ms: i64) -> bool;
    fn finish_attempts(&self, batch: &[Finished], now_ms: i64) -> usize;
    fn delivery_log(&self, endpoint_id: &str, before: Option<i64>, limit: usize) -> Page<LogEntry>;
    fn requeue_delivery(&self, endpoint_id: &str, id: &str, now_ms: i64) -> Delivery;
    fn prune_deliveries(&self, older_than_ms: i64, batch: usize) -> Pruned;
});

delegate!(NotificationStore {
    fn insert_notifications(&self, batch: &[NewNotification], now_ms: i64) -> Vec<Inserted>;
    fn get_notification(&self, app_id: &str, id: &str) -> Notification;
    fn cancel_notification(&self, app_id: &str, id: &str, now_ms: i64) -> Notification;
    fn list_notifications(&self, app_id: &str, filter: &NotificationFilter<'_>, before: Option<i64>, limit: usize) -> Page<Notification>;
    fn claim_due_notifications(&self, up_to_ms: i64, now_ms: i64, lease_ms: i64, limit: usize) -> Vec<Notification>;
    fn settle_notification(&self, id: &str, outcome: &NotificationOutcome, now_ms: i64) -> ();
    fn settle_notifications(&self, batch: &[(String, NotificationOutcome)], now_ms: i64) -> Vec<bool>;
    fn pending_among(&self, ids: &[String]) -> Vec<bool>;
    fn count_pending_notifications(&self, app_id: &str) -> u64;
    fn prune_notifications(&self, older_than_ms: i64, batch: usize) -> u64;
});
