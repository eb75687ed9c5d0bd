//! The control core's thread: opens the store, then answers shard requests until shutdown.
//!
//! [`start`] returns only after the store is open (or with the reason it is not), so a bad
//! data directory stops the server before it accepts anything. The loop sleeps on its doorbell
//! and handles requests one at a time: each store call is short, and a shard that asked waits
//! with its own timeout, never blocking its core.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::msg::ControlMsg;
use super::ops;
use crate::config::{Config, DATA_DIR_KEYS};
use crate::ring::{BellHandle, Endpoint};
use crate::store::{SqliteStore, StoreError};

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

/// Starts the control core on `endpoint` (its end of the control mesh) and returns once the
/// store is open. It is pinned to the first core beyond the shards when pinning is on and such
/// a core exists; otherwise it floats.
pub fn start(
    config: &Config,
    uring: bool,
    endpoint: Endpoint<ControlMsg>,
) -> Result<ControlCore, ControlError> {
    let dir = config.data_dir.clone();
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let pin = (config.pinning && cores > config.workers).then_some(config.workers);
    let stop = Arc::new(AtomicBool::new(false));
    let bell = endpoint.bell();
    let (ready_tx, ready_rx) = mpsc::channel();
    let flag = stop.clone();
    let thread = thread::Builder::new()
        .name("ringcast-control".into())
        .spawn(move || run(dir, pin, uring, endpoint, flag, ready_tx))
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

fn run(
    dir: PathBuf,
    pin: Option<usize>,
    uring: bool,
    endpoint: Endpoint<ControlMsg>,
    stop: Arc<AtomicBool>,
    ready: mpsc::Sender<Result<(), ControlError>>,
) {
    if let Some(core) = pin {
        if let Err(e) = monoio::utils::bind_to_cpu_set([core]) {
            tracing::warn!(core, error = ?e, "could not pin the control core");
        }
    }
    let store = match SqliteStore::open(&dir) {
        Ok(s) => s,
        Err(source) => {
            let _ = ready.send(Err(ControlError::DataDir { path: dir, source }));
            return;
        }
    };
    let body = async {
        let _ = ready.send(Ok(()));
        tracing::info!(pinned = ?pin, data_dir = %dir.display(), "control core running");
        serve(&store, endpoint, &stop).await;
    };
    if let Err(e) = crate::shard::lifecycle::runtime::block_on(uring, body) {
        tracing::error!(error = %e, "cannot build the control core runtime");
    }
}

/// Answers requests until `stop` is set.
async fn serve(store: &SqliteStore, mut endpoint: Endpoint<ControlMsg>, stop: &AtomicBool) {
    let bell = endpoint.bell();
    loop {
        bell.wait(|| endpoint.has_incoming() || stop.load(Ordering::Acquire))
            .await;
        if stop.load(Ordering::Acquire) {
            return;
        }
        let mut batch = Vec::with_capacity(BATCH);
        endpoint.drain(BATCH, |m| batch.push(m));
        for msg in batch {
            let ControlMsg::Request { from, id, request } = msg else {
                continue;
            };
            let reply = ops::execute(store, *request, now_ms()).await;
            if let Err(e) = &reply {
                tracing::debug!(shard = from, error = %e, "control request refused");
            }
            endpoint.send(
                from,
                ControlMsg::Reply {
                    id,
                    reply: Box::new(reply),
                },
            );
        }
        while endpoint.flush_overflow() && !stop.load(Ordering::Acquire) {
            monoio::time::sleep(OVERFLOW_RETRY).await;
        }
    }
}

/// Unix milliseconds: the store's clock.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
