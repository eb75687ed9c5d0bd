//! Starts the control core's webhook tasks once the store is open: the delivery loop (with the
//! apps' credentials and the metrics counters), the `/metrics` gauges, the history retention
//! job, and the Pusher channel webhooks wired to the durable pusher-format endpoints.
//!
//! Only wiring: each task lives in its own module, and all of them stop when `stop` is set.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::deliver::{self, Deliverer};
use super::directory::Directory;
use super::now_ms;
use super::pusher_endpoints::{DeliveryContext, PusherEndpoints};
use super::pusher_hooks::PusherHooks;
use super::{retention, webhook_stats};
use crate::config::{AppConfig, WebhooksConfig};
use crate::shard::Shared;
use crate::store::AnyStore;

/// What the webhook tasks are started with.
pub struct WebhookSetup<'a> {
    /// The store.
    pub store: &'a Rc<AnyStore>,
    /// The endpoint directory.
    pub dir: &'a Rc<RefCell<Directory>>,
    /// The apps, in `Config::apps` order.
    pub apps: &'a [AppConfig],
    /// The `[webhooks]` settings: allowed subnets, delivery bounds, retention.
    pub webhooks: &'a WebhooksConfig,
    /// Where the metrics are counted.
    pub shared: &'a Arc<Shared>,
}

/// Spawns the tasks; returns the channel webhook receivers for the request loop.
pub fn spawn(setup: WebhookSetup<'_>, stop: &Arc<AtomicBool>) -> PusherHooks {
    let stopped = || {
        let flag = stop.clone();
        move || flag.load(Ordering::Acquire)
    };
    let WebhookSetup {
        store,
        dir,
        apps,
        webhooks,
        shared,
    } = setup;
    let context = DeliveryContext::new(apps, shared.clone());
    let deliverer = Deliverer::new(store.clone(), dir.clone(), webhooks).with_context(context);
    monoio::spawn(deliver::run(Rc::new(deliverer), stopped()));
    let gauges = webhook_stats::run_gauges(store.clone(), shared.clone(), now_ms, stopped());
    monoio::spawn(gauges);
    monoio::spawn(retention::run(
        store.clone(),
        webhooks.retention_days,
        now_ms,
        stopped(),
    ));
    let ids = apps.iter().map(|a| a.id.clone()).collect();
    PusherHooks::new(apps, PusherEndpoints::new(store.clone(), dir.clone(), ids))
}
