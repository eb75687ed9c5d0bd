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
    #[arg(long, default_value = "1000")]
    pub app_id: String,
    #[arg(long, default_value = "ringcast-dev-key")]
    pub key: String,
    #[arg(long, default_value = "ringcast-dev-secret")]
    pub secret: String,
    /// WebSocket connections to hold open.
    #[arg(long, default_value_t = 1000)]
    pub connections: usize,
    /// Channels (`channels` mode; `fanout` always uses one).
    #[arg(long, default_value_t = 10)]
    pub channels: usize,
    /// Events published per second (over all publishers).
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// Seconds of measured publishing (after the warmup).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of publishing before measuring; those events are checked for loss only.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
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
    /// Write the JSON report to this file instead of stdout.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

impl Args {
    /// The mode, whether given by flag or positionally.
    pub fn mode(&self) -> ModeKind {
        self.mode_pos.unwrap_or(self.mode)
    }

    /// Number of channels the mode uses.
    pub fn channel_count(&self) -> usize {
        match self.mode() {
            ModeKind::Fanout => 1,
            ModeKind::Channels => self.channels.clamp(1, self.connections.max(1)),
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
        if self.threads == 0 || self.connect_concurrency == 0 {
            return Err("--threads and --connect-concurrency must be >= 1".into());
        }
        Ok(())
    }
}
