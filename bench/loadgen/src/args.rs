//! Command-line arguments of `ringcast-load`.
//!
//! Owns the flag names, their defaults and the derived durations; it validates nothing
//! about the server and never opens a socket. Every mode reads the same `Args`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// The workload to run (one module per variant under `modes/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModeKind {
    /// N connections on one channel; each event goes to all of them.
    Fanout,
    /// N connections spread over C channels; events round-robin over the channels.
    Channels,
    /// Pairs of connections on private channels: `client-ping` answered by `client-pong`.
    Pingpong,
    /// The `channels` workload with the publish rate stepped up until p99 or loss gives way.
    Ramp,
    /// Mixed traffic for a long time: fan-out, small channels, client events, churn, reconnects.
    Soak,
    /// Filtered collection subscriptions (ringcast): one `owner = …` filter per connection plus
    /// `--scanned` filters without an equality; record changes, one delivery each.
    Records,
}

/// End-to-end fan-out load generator for any Pusher-compatible server.
#[derive(Clone, Debug, Parser)]
#[command(name = "ringcast-load", version)]
pub struct Args {
    /// Workload (also accepted as the first positional argument).
    #[arg(long, value_enum, default_value = "fanout")]
    pub mode: ModeKind,
    /// Workload given positionally: `ringcast-load fanout ...`.
    #[arg(value_enum, conflicts_with = "mode", hide = true)]
    pub mode_pos: Option<ModeKind>,
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// `fanout` / `channels` / `ramp`: ports of several nodes of one cluster (comma-separated): subscriber connection `i`
    /// goes to the `i % n`-th; publishing stays on `--port`. Empty: everything on `--port`.
    #[arg(long, value_delimiter = ',')]
    pub sub_ports: Vec<u16>,
    #[arg(long, default_value = "1000")]
    pub app_id: String,
    #[arg(long, default_value = "ringcast-dev-key")]
    pub key: String,
    #[arg(long, default_value = "ringcast-dev-secret")]
    pub secret: String,
    /// WebSocket connections to hold open [default: 1000; soak: 10000].
    #[arg(long = "connections")]
    connections_flag: Option<usize>,
    /// The connections to use (the flag or the mode's default); set by [`Args::resolve`].
    #[arg(skip)]
    pub connections: usize,
    /// Channels (`channels` mode; `fanout` always uses one).
    #[arg(long, default_value_t = 10)]
    pub channels: usize,
    /// Events published per second over all publishers (`ramp`: of the first step; `soak`: on
    /// the small channels) [default: 10; soak: 200].
    #[arg(long = "rate")]
    rate_flag: Option<f64>,
    /// The rate to use; set by [`Args::resolve`].
    #[arg(skip)]
    pub rate: f64,
    /// Seconds of measured publishing (after the warmup) [default: 10; soak: 600].
    #[arg(long = "duration")]
    duration_flag: Option<f64>,
    /// The duration to use (the flag or the mode's default); set by [`Args::resolve`].
    #[arg(skip)]
    pub duration: f64,
    /// Seconds of publishing before measuring; those events are checked for loss only.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// `fanout`/`channels`: also report the latency per slice of this many seconds of the
    /// measured window, with wall-clock bounds (`slices` in the JSON), to compare phases of one
    /// run.
    #[arg(long)]
    pub slice_secs: Option<f64>,
    /// Seconds to wait after the last publish for outstanding deliveries.
    #[arg(long, default_value_t = 2.0)]
    pub drain: f64,
    /// Publisher keep-alive HTTP connections, the rate split between them; 0 = one per 100
    /// events/s (at most 8), so a request's round trip never holds back the schedule.
    #[arg(long, default_value_t = 0)]
    pub publishers: usize,
    /// Connection handshakes in flight at once.
    #[arg(long, default_value_t = 256)]
    pub connect_concurrency: usize,
    /// Tokio worker threads for the client side.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Channel names are PREFIX-0, PREFIX-1, ...
    #[arg(long, default_value = "bench")]
    pub channel_prefix: String,
    /// Server process to sample (RSS from /proc/PID/status, CPU from /proc/PID/stat).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// `ramp`: seconds per step.
    #[arg(long, default_value_t = 3.0)]
    pub step_secs: f64,
    /// `ramp`: rate multiplier from one step to the next.
    #[arg(long, default_value_t = 1.5)]
    pub ramp_factor: f64,
    /// `ramp`: a step whose p99 reaches this many milliseconds ends the ramp.
    #[arg(long, default_value_t = 10.0)]
    pub p99_limit_ms: f64,
    /// `ramp`: most steps to run.
    #[arg(long, default_value_t = 30)]
    pub max_steps: usize,
    /// `soak`: events per second on the one channel every connection joins.
    #[arg(long, default_value_t = 1.0)]
    pub big_rate: f64,
    /// `soak`: connections per small channel.
    #[arg(long, default_value_t = 10)]
    pub group_size: usize,
    /// `pingpong` / `soak`: client-ping round trips per second per pair (the server allows 10
    /// client events per second per connection unless REVERB_APP_MAX_CLIENT_EVENTS_PER_SECOND
    /// says otherwise).
    /// [default: pingpong 5, soak 0.5]
    #[arg(long = "client-rate")]
    client_rate_flag: Option<f64>,
    /// The client-event rate per pair to use; set by [`Args::resolve`].
    #[arg(skip)]
    pub client_rate: f64,
    /// `soak`: fraction of connections that keep unsubscribing and resubscribing their small
    /// channel.
    #[arg(long, default_value_t = 0.1)]
    pub churn_fraction: f64,
    /// `soak`: fraction of connections that periodically close and reconnect.
    #[arg(long, default_value_t = 0.1)]
    pub reconnect_fraction: f64,
    /// `soak`: mean seconds between two unsubscribes (or two reconnects) of one connection.
    #[arg(long, default_value_t = 5.0)]
    pub churn_interval: f64,
    /// `records`: connections (of `--connections`) whose filter has no equality to index.
    #[arg(long, default_value_t = 100)]
    pub scanned: usize,
    /// `records`: the collection (public in the server's configuration).
    #[arg(long, default_value = "bench")]
    pub collection: String,
    /// `records`: the server's channel prefix of collections.
    #[arg(long, default_value = "velo.realtime.")]
    pub realtime_prefix: String,
    /// `records` / `channels`: events per publish request, as one `{"records": [...]}` body or
    /// one `batch_events` request (ringcast, like Pusher, takes at most 10 events in a batch).
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// `channels`: publish each event as what a `records` run delivers (named `created`, data
    /// `{"action":"created","record":{"owner":CHANNEL,"seq":N,"t":T}}`), so that an unfiltered
    /// run delivers the same frames as a filtered one, its channel name aside.
    #[arg(long)]
    pub record_payload: bool,
    /// Write the JSON report to this file instead of stdout.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

impl Args {
    /// The mode, whether given by flag or positionally.
    pub fn mode(&self) -> ModeKind {
        self.mode_pos.unwrap_or(self.mode)
    }

    /// Fills in the defaults that depend on the mode; call once after parsing.
    pub fn resolve(mut self) -> Self {
        let soak = self.mode() == ModeKind::Soak;
        self.connections = self
            .connections_flag
            .unwrap_or(if soak { 10_000 } else { 1000 });
        self.duration = self
            .duration_flag
            .unwrap_or(if soak { 600.0 } else { 10.0 });
        self.rate = self.rate_flag.unwrap_or(if soak { 200.0 } else { 10.0 });
        self.client_rate = self
            .client_rate_flag
            .unwrap_or(if soak { 0.5 } else { 5.0 });
        self
    }

    /// Number of channels the mode uses.
    pub fn channel_count(&self) -> usize {
        match self.mode() {
            ModeKind::Fanout => 1,
            ModeKind::Channels | ModeKind::Ramp => self.channels.clamp(1, self.connections.max(1)),
            ModeKind::Pingpong => self.connections / 2,
            ModeKind::Records => self.connections,
            ModeKind::Soak => self.connections.div_ceil(self.group_size.max(1)),
        }
    }

    pub fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup.max(0.0))
    }

    pub fn publish_time(&self) -> Duration {
        Duration::from_secs_f64(self.warmup.max(0.0) + self.duration.max(0.0))
    }

    pub fn drain(&self) -> Duration {
        Duration::from_secs_f64(self.drain.max(0.0))
    }

    /// Publisher connections to use.
    pub fn publisher_count(&self) -> usize {
        if self.publishers > 0 {
            self.publishers
        } else {
            ((self.rate / 100.0).ceil() as usize).clamp(1, 8)
        }
    }

    /// Checks values no run can work with.
    pub fn validate(&self) -> Result<(), String> {
        if self.connections == 0 {
            return Err("--connections must be at least 1".into());
        }
        if !(self.rate > 0.0 && self.rate.is_finite()) {
            return Err("--rate must be a positive number".into());
        }
        if self.mode() == ModeKind::Pingpong && self.connections < 2 {
            return Err("pingpong needs --connections of at least 2 (one pair)".into());
        }
        if !(self.ramp_factor > 1.0 && self.step_secs > 0.0) {
            return Err("--ramp-factor must be > 1 and --step-secs > 0".into());
        }
        let fractions = self.churn_fraction + self.reconnect_fraction;
        if !(0.0..=1.0).contains(&fractions) || self.churn_fraction < 0.0 {
            return Err("--churn-fraction + --reconnect-fraction must be within 0..1".into());
        }
        if !(self.client_rate > 0.0 && self.client_rate.is_finite()) {
            return Err("--client-rate must be a positive number".into());
        }
        if self.group_size == 0 || self.churn_interval <= 0.0 {
            return Err("--group-size must be >= 1 and --churn-interval > 0".into());
        }
        if self.mode() == ModeKind::Records && self.scanned >= self.connections {
            return Err("records needs --connections over --scanned (the owner filters)".into());
        }
        let batched = matches!(self.mode(), ModeKind::Records | ModeKind::Channels);
        if self.batch == 0 || (self.batch > 1 && !batched) {
            return Err("--batch must be >= 1, and above 1 only in records and channels".into());
        }
        if self.threads == 0 || self.connect_concurrency == 0 {
            return Err("--threads and --connect-concurrency must be >= 1".into());
        }
        Ok(())
    }
}
