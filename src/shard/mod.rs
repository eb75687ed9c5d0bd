//! The monoio shell: one shard per core, each with its own listener, connections, channel
//! index and ring endpoint.
//!
//! Everything protocol-shaped lives in `proto`; this module only moves bytes between sockets,
//! rings and the shard's state, feeds each connection's `proto::pusher::session::Session` and
//! carries out its effects. A shard never awaits anything owned by another core, and never
//! imports the REST handlers: they are handed in at [`start`] and see the shard through
//! [`Port`].
//!
//! Layout: `model` (pure per-core structures), `io` (sockets and the session driver), `cores`
//! (everything between cores), `lifecycle` (sweeper, shutdown), and `state` (the [`Shared`]
//! counters and the per-core `Shard`).

pub(crate) mod cores;
pub(crate) mod io;
pub(crate) mod lifecycle;
pub(crate) mod model;
mod port;
mod state;

use std::fmt;
use std::net::SocketAddr;
use std::sync::{mpsc, Arc};
use std::thread;

use monoio::net::{ListenerOpts, TcpListener};

pub use model::stats::ShardStats;
pub(crate) use model::stats::{codes, LATENCY_BUCKETS};
pub use port::{Port, Registration, RestHandler};
pub use state::{ChannelFilter, Query, QueryPart, Shared};

use state::{CoreMsg, Shard};

use crate::config::{Config, Driver};
use crate::control::{ControlCore, ControlError, ControlMsg};

/// Why the server could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// A listener could not bind (port in use, permission, bad address).
    Bind {
        /// The address that was tried.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A runtime or thread could not be created.
    Runtime(std::io::Error),
    /// `driver = "io_uring"` was configured but the kernel refuses io_uring.
    IoUringUnavailable,
    /// The control core (its store) could not start.
    Control(ControlError),
}

impl StartError {
    /// The process exit code: 2 for a setting the user must change, else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            StartError::Control(ControlError::DataDir { .. }) => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Bind { addr, source } => write!(
                f,
                "cannot listen on {addr}: {source} (change REVERB_SERVER_PORT or stop the other process)"
            ),
            StartError::Runtime(e) => write!(f, "cannot start a shard runtime: {e}"),
            StartError::IoUringUnavailable => f.write_str(
                "io_uring is unavailable on this kernel (or blocked by seccomp); set RINGCAST_DRIVER=auto or epoll",
            ),
            StartError::Control(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// How long a shard waits for its clients to go after a shutdown signal.
const SHUTDOWN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// A running server: the shard threads, until they stop.
pub struct Server {
    threads: Vec<thread::JoinHandle<()>>,
    bells: Vec<crate::ring::BellHandle>,
    control: ControlCore,
    /// The counters shared by all shards.
    pub shared: Arc<Shared>,
}

impl Server {
    /// Starts a graceful shutdown on every shard (from any thread); `join` then returns once
    /// they have finished.
    pub fn shutdown(&self) {
        self.shared
            .shutting_down
            .store(true, std::sync::atomic::Ordering::Release);
        for bell in &self.bells {
            bell.ring();
        }
    }

    /// Replaces the TLS configuration for connections accepted from now on.
    pub fn set_tls(&self, tls: Arc<rustls::ServerConfig>) {
        if let Ok(mut slot) = self.shared.tls.write() {
            *slot = Some(tls);
        }
    }

    /// Blocks until every shard thread has ended, then stops the control core (shards may
    /// still ask it while they drain).
    pub fn join(self) {
        for t in self.threads {
            let _ = t.join();
        }
        self.control.stop();
    }
}

/// Starts `config.workers` shards and returns once every listener is bound. With `tls`, every
/// connection is TLS. HTTP requests that are not WebSocket upgrades go to `rest`.
pub fn start(
    config: Arc<Config>,
    tls: Option<Arc<rustls::ServerConfig>>,
    rest: RestHandler,
) -> Result<Server, StartError> {
    // SO_REUSEPORT would let a second server share a port another process already serves,
    // splitting its traffic silently. A plain bind first makes that a clear startup error.
    std::net::TcpListener::bind(addr_of(&config)).map_err(|source| StartError::Bind {
        addr: addr_of(&config),
        source,
    })?;
    let shared = Shared::new(config.workers, config.apps.len());
    if let Ok(mut slot) = shared.tls.write() {
        *slot = tls;
    }
    let addr = SocketAddr::new(config.host, config.port);
    let available = monoio::utils::detect_uring();
    let uring = match config.driver {
        Driver::IoUring if !available => return Err(StartError::IoUringUnavailable),
        Driver::IoUring => true,
        Driver::Epoll => false,
        Driver::Auto => available,
    };
    match (uring, config.driver) {
        (true, _) => tracing::info!(
            workers = config.workers,
            driver = "io_uring",
            "shards starting"
        ),
        (false, Driver::Epoll) => {
            tracing::info!(
                workers = config.workers,
                driver = "epoll",
                "shards starting (configured)"
            )
        }
        (false, _) => tracing::warn!(
            workers = config.workers,
            driver = "epoll",
            "io_uring unavailable: falling back to epoll"
        ),
    }
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), StartError>>();
    let mut threads = Vec::new();
    let endpoints = crate::ring::mesh::<CoreMsg>(config.workers);
    let bells = endpoints.iter().map(|e| e.bell()).collect();
    // The control star: one endpoint per shard, and the hub (the last) for the control core.
    let mut control_ends = crate::ring::star::<ControlMsg>(config.workers);
    let control_end = control_ends
        .pop()
        .expect("the mesh has the control endpoint");
    let control = crate::control::start(&config, shared.clone(), uring, control_end)
        .map_err(StartError::Control)?;
    for (endpoint, control_end) in endpoints.into_iter().zip(control_ends) {
        let config = config.clone();
        let shared = shared.clone();
        let ready = ready_tx.clone();
        let id = endpoint.index();
        let handle = thread::Builder::new()
            .name(format!("ringcast-shard-{id}"))
            .spawn(move || {
                let ends = (endpoint, control_end);
                run_shard(config, shared, ends, addr, uring, rest, ready)
            })
            .map_err(StartError::Runtime)?;
        threads.push(handle);
    }
    drop(ready_tx);
    for _ in 0..config.workers {
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(StartError::Runtime(std::io::Error::other(
                    "a shard thread died during startup",
                )))
            }
        }
    }
    Ok(Server {
        threads,
        bells,
        control,
        shared,
    })
}

fn addr_of(config: &Config) -> SocketAddr {
    SocketAddr::new(config.host, config.port)
}

fn run_shard(
    config: Arc<Config>,
    shared: Arc<Shared>,
    (endpoint, control): (
        crate::ring::Endpoint<CoreMsg>,
        crate::ring::Endpoint<ControlMsg>,
    ),
    addr: SocketAddr,
    uring: bool,
    rest: RestHandler,
    ready: mpsc::Sender<Result<(), StartError>>,
) {
    let id = endpoint.index();
    if config.pinning {
        let cores = thread::available_parallelism().map_or(1, |n| n.get());
        if let Err(e) = monoio::utils::bind_to_cpu_set([id % cores]) {
            tracing::warn!(shard = id, error = ?e, "could not pin shard to its core");
        }
    }
    let body = async move {
        let opts = ListenerOpts::new()
            .reuse_port(true)
            .reuse_addr(true)
            .backlog(4096);
        let listener = match TcpListener::bind_with_config(addr, &opts) {
            Ok(l) => l,
            Err(source) => {
                let _ = ready.send(Err(StartError::Bind { addr, source }));
                return;
            }
        };
        let shard = Shard::new(config, shared, endpoint, control, rest);
        monoio::spawn(cores::fanout::drain_task(shard.clone()));
        monoio::spawn(cores::control::drain_task(shard.clone()));
        monoio::spawn(lifecycle::sweeper::sweeper_task(shard.clone()));
        let _ = ready.send(Ok(()));
        tracing::debug!(shard = id, %addr, "shard listening");
        io::conn::accept_loop(shard.clone(), listener).await;
        lifecycle::shutdown::drained(shard, SHUTDOWN_DEADLINE).await;
    };
    let built = lifecycle::runtime::block_on(uring, body);
    if let Err(e) = built {
        tracing::error!(shard = id, error = %e, "cannot build the shard runtime");
    }
}
