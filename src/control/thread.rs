//! The control core's thread: opens the store, then answers shard requests until shutdown.
//!
//! [`start`] returns only after the store is open (or with the reason it is not), so a bad
//! data directory stops the server before it accepts anything. The loop sleeps on its doorbell
//! and handles requests one at a time: each store call is short, and a shard that asked waits
//! with its own timeout, never blocking its core.

use std::cell::RefCell;
use std::fmt;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use super::cluster::{self, Cluster};
use super::config_hooks;
use super::directory::Directory;
use super::msg::ControlMsg;
use super::notify;
use super::pusher_hooks::{self, PusherHooks};
use super::relay::Relay;
use super::shared_endpoints;
use super::{now_ms, ops, webhook_tasks};
use crate::broker::{BrokerError, LinkOptions};
use crate::config::{AppConfig, Config, ScalingConfig, WebhooksConfig, DATA_DIR_KEYS};
use crate::ring::{BellHandle, Endpoint};
use crate::shard::Shared;
use crate::store::{AnyStore, StoreError};
use crate::webhook::route::Route;

/// Requests handled before the loop checks for shutdown and flushes its replies.
const BATCH: usize = 64;
/// How long the loop waits before retrying replies that found a shard's ring full.
const OVERFLOW_RETRY: Duration = Duration::from_millis(1);

/// Why the control core could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum ControlError {
    /// The store could not be created or opened in the data directory.
    DataDir {
        /// The configured directory.
        path: PathBuf,
        /// The store's reason.
        source: StoreError,
    },
    /// The thread or its runtime could not be created.
    Runtime(std::io::Error),
    /// Scaling is on and Redis could not be reached (the error names the address).
    Broker(BrokerError),
    /// Scaling is on and the shared store in Redis could not be read.
    SharedStore(StoreError),
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::DataDir { path, source } => write!(
                f,
                "invalid setting {DATA_DIR_KEYS}: cannot open the store in {}: {source}; point \
                 it at a directory ringcast may create and write",
                path.display()
            ),
            ControlError::Runtime(e) => write!(f, "cannot start the control core: {e}"),
            ControlError::Broker(e) => write!(f, "scaling is enabled but {e}"),
            ControlError::SharedStore(e) => write!(f, "scaling is enabled but {e}"),
        }
    }
}

impl std::error::Error for ControlError {}

/// The running control core.
pub struct ControlCore {
    thread: thread::JoinHandle<()>,
    bell: BellHandle,
    stop: Arc<AtomicBool>,
}

impl ControlCore {
    /// Stops the loop and waits for the thread; call after the shards have stopped, since they
    /// may still ask while draining.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Release);
        self.bell.ring();
        let _ = self.thread.join();
    }
}

/// Starts the control core on `endpoint` (its end of the control star) and returns once the
/// store is open. It is pinned to the first core beyond the shards when pinning is on and such
/// a core exists; otherwise it floats.
pub fn start(
    config: &Config,
    shared: Arc<Shared>,
    uring: bool,
    endpoint: Endpoint<ControlMsg>,
) -> Result<ControlCore, ControlError> {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let setup = Setup {
        dir: config.data_dir.clone(),
        webhooks: config.webhooks.clone(),
        tls: super::outgoing::tls_config(&config.webhooks)
            .map_err(|e| ControlError::Runtime(std::io::Error::other(e)))?,
        scaling: config.scaling.clone(),
        apps: config.apps.clone(),
        flags: Flags {
            apps: config.apps.iter().map(|a| a.id.clone()).collect(),
            shared,
        },
        pin: (config.pinning && cores > config.workers).then_some(config.workers),
        uring,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let bell = endpoint.bell();
    let (ready_tx, ready_rx) = mpsc::channel();
    let flag = stop.clone();
    let thread = thread::Builder::new()
        .name("ringcast-control".into())
        .spawn(move || run(setup, endpoint, flag, ready_tx))
        .map_err(ControlError::Runtime)?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(ControlCore { thread, bell, stop }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => Err(ControlError::Runtime(std::io::Error::other(
            "the control core died during startup",
        ))),
    }
}

/// What the control thread is started with.
struct Setup {
    /// The data directory.
    dir: PathBuf,
    /// The `[webhooks]` settings, for the delivery loop and its HTTP client.
    webhooks: WebhooksConfig,
    /// The https receivers' trust.
    tls: Arc<rustls::ClientConfig>,
    /// The Redis link's settings, when scaling is on.
    scaling: Option<ScalingConfig>,
    /// The apps: their credentials and Pusher channel webhook receivers.
    apps: Vec<AppConfig>,
    flags: Flags,
    /// The core to pin to, if any.
    pin: Option<usize>,
    /// io_uring (else epoll).
    uring: bool,
}

fn run(
    Setup {
        dir,
        webhooks,
        tls,
        scaling,
        apps,
        flags,
        pin,
        uring,
    }: Setup,
    endpoint: Endpoint<ControlMsg>,
    stop: Arc<AtomicBool>,
    ready: mpsc::Sender<Result<(), ControlError>>,
) {
    if let Some(core) = pin {
        if let Err(e) = monoio::utils::bind_to_cpu_set([core]) {
            tracing::warn!(core, error = ?e, "could not pin the control core");
        }
    }
    let timeout = LinkOptions::default().connect_timeout;
    let store = match AnyStore::open(&dir, scaling.as_ref(), timeout) {
        Ok(s) => s,
        Err(source) => {
            let _ = ready.send(Err(ControlError::DataDir { path: dir, source }));
            return;
        }
    };
    let store = Rc::new(store);
    super::outgoing::install(&webhooks, tls);
    let body = async {
        if let Err(e) = store.check().await {
            let _ = ready.send(Err(ControlError::SharedStore(e)));
            return;
        }
        if let Err(source) = config_hooks::sync(store.as_ref(), &apps, now_ms()).await {
            let _ = ready.send(Err(ControlError::DataDir { path: dir, source }));
            return;
        }
        let endpoints = match Directory::load(store.as_ref()).await {
            Ok(d) => {
                flags.publish(&d);
                Rc::new(RefCell::new(d))
            }
            Err(source) => {
                let path = dir.clone();
                let _ = ready.send(Err(ControlError::DataDir { path, source }));
                return;
            }
        };
        let relay = match &scaling {
            None => None,
            Some(scaling) => {
                match Relay::launch(scaling, &flags.apps, &flags.shared, &endpoint).await {
                    Ok(relay) => Some(relay),
                    Err(e) => {
                        let _ = ready.send(Err(ControlError::Broker(e)));
                        return;
                    }
                }
            }
        };
        let cluster = match (&scaling, &relay) {
            (Some(scaling), Some(relay)) => {
                match Cluster::launch(scaling, relay.node(), &flags.apps, &endpoint, &flags.shared)
                    .await
                {
                    Ok(cluster) => Some(cluster),
                    Err(e) => {
                        let _ = ready.send(Err(ControlError::Broker(e)));
                        return;
                    }
                }
            }
            _ => None,
        };
        let _ = ready.send(Ok(()));
        tracing::info!(pinned = ?pin, data_dir = %dir.display(), "control core running");
        let setup = webhook_tasks::WebhookSetup {
            store: &store,
            dir: &endpoints,
            apps: &apps,
            webhooks: &webhooks,
            shared: &flags.shared,
        };
        let hooks = webhook_tasks::spawn(setup, &stop);
        let ring = Rc::new(RefCell::new(endpoint));
        let notifier = notify::Notifier {
            ring: ring.clone(),
            apps: flags.apps.clone(),
            dir: endpoints.clone(),
            shared: flags.shared.clone(),
            cluster: scaling.is_some(),
        };
        let flag = stop.clone();
        monoio::spawn(notify::run(store.clone(), notifier, move || {
            flag.load(Ordering::Acquire)
        }));
        if scaling.is_some() {
            let others = Flags {
                apps: flags.apps.clone(),
                shared: flags.shared.clone(),
            };
            let flag = stop.clone();
            monoio::spawn(shared_endpoints::refresh(
                store.clone(),
                endpoints.clone(),
                move |d| others.publish(d),
                move || flag.load(Ordering::Acquire),
            ));
        }
        let hooks = Rc::new(hooks);
        serve(
            &store,
            &endpoints,
            &flags,
            relay.as_deref().zip(cluster.as_deref()),
            &hooks,
            &ring,
            &stop,
        )
        .await;
    };
    if let Err(e) = crate::shard::lifecycle::runtime::block_on(uring, body) {
        tracing::error!(error = %e, "cannot build the control core runtime");
    }
}

/// Tells the shards which apps have endpoints for published events.
struct Flags {
    /// App ids, in `Config::apps` order.
    apps: Vec<String>,
    shared: Arc<Shared>,
}

impl Flags {
    fn publish(&self, dir: &Directory) {
        for (routes, app) in self.shared.webhook_routes.iter().zip(&self.apps) {
            let fresh: Arc<[Route]> = dir.event_routes(app).into();
            match routes.write() {
                Ok(mut r) => *r = fresh,
                Err(poisoned) => *poisoned.into_inner() = fresh,
            }
        }
        let channel = self.shared.pusher_endpoint_kinds.iter().zip(&self.apps);
        for (mask, app) in channel {
            mask.store(dir.channel_event_mask(app), Ordering::Release);
        }
    }
}

/// Answers requests until `stop` is set.
async fn serve(
    store: &AnyStore,
    dir: &RefCell<Directory>,
    flags: &Flags,
    scaling: Option<(&Relay, &Cluster)>,
    hooks: &Rc<PusherHooks>,
    endpoint: &RefCell<Endpoint<ControlMsg>>,
    stop: &AtomicBool,
) {
    let bell = endpoint.borrow().bell();
    let (relay, cluster) = (scaling.map(|s| s.0), scaling.map(|s| s.1));
    loop {
        let inbound =
            || relay.is_some_and(Relay::has_inbound) || cluster.is_some_and(Cluster::has_output);
        bell.wait(|| endpoint.borrow().has_incoming() || inbound() || stop.load(Ordering::Acquire))
            .await;
        if stop.load(Ordering::Acquire) {
            if let (Some(cluster), Some(relay)) = (cluster, relay) {
                cluster::finish(cluster, relay, endpoint, hooks).await;
            }
            return;
        }
        let mut batch = Vec::with_capacity(BATCH);
        endpoint.borrow_mut().drain(BATCH, |m| batch.push(m));
        for msg in batch {
            // The link's messages (forwards) go to the relay; the rest are requests.
            let Some(msg) = (match relay {
                Some(r) => r.take(msg),
                None => Some(msg),
            }) else {
                continue;
            };
            let Some(msg) = (match cluster {
                Some(c) => c.take(msg),
                None => Some(msg),
            }) else {
                continue;
            };
            if let ControlMsg::PusherEvent { app, event } = msg {
                pusher_hooks::on_event(hooks, app, *event);
                continue;
            }
            let ControlMsg::Request { from, id, request } = msg else {
                continue;
            };
            let reloads = request.changes_endpoints();
            let reply = ops::execute(store, dir, *request, now_ms()).await;
            if reloads && reply.is_ok() {
                match Directory::load(store).await {
                    Ok(d) => {
                        flags.publish(&d);
                        *dir.borrow_mut() = d;
                    }
                    Err(e) => tracing::error!(error = %e, "cannot reload the endpoints"),
                }
            }
            if let Err(e) = &reply {
                tracing::debug!(shard = from, error = %e, "control request refused");
            }
            endpoint.borrow_mut().send(
                from,
                ControlMsg::Reply {
                    id,
                    reply: Box::new(reply),
                },
            );
        }
        if let (Some(cluster), Some(relay)) = (cluster, relay) {
            cluster.flush(&mut endpoint.borrow_mut(), relay, hooks);
        }
        if let Some(relay) = relay {
            relay.deliver(&mut endpoint.borrow_mut());
        }
        while endpoint.borrow_mut().flush_overflow() && !stop.load(Ordering::Acquire) {
            monoio::time::sleep(OVERFLOW_RETRY).await;
        }
    }
}
