//! One TCP connection to Redis on monoio: connect, log in, send commands, read frames.
//!
//! Thin on purpose: framing and reply meanings are in [`super::resp`]; this file only moves
//! bytes and turns I/O failures into [`BrokerError`]s that name the address. It also holds
//! [`Redial`], the reconnect state shared by the publisher and the subscriber. A connection
//! is not cancel-safe (a dropped read loses what it had read): drive each from one task.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use redis_protocol::resp2::types::OwnedFrame;
use rustls::ClientConnection;

use super::resp::{self, Decoder, LoginStep};
use super::tls;
use super::{Backoff, BrokerError};
use crate::config::RedisTarget;

/// Bytes asked of the kernel per read.
const READ_CHUNK: usize = 16 * 1024;

/// TCP keepalive: idle time before the first probe, time between probes, probes lost before
/// the kernel fails the socket. A subscriber only reads, so without them a Redis that vanished
/// without a FIN (a host lost, a partition) would go unnoticed; with them within ~11 s.
const KEEPALIVE: (Duration, Duration, u32) = (Duration::from_secs(5), Duration::from_secs(2), 3);

/// Timing of a link's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkOptions {
    /// Longest wait for connect plus login.
    pub connect_timeout: Duration,
    /// Delays between reconnect attempts.
    pub backoff: Backoff,
}

impl Default for LinkOptions {
    fn default() -> Self {
        LinkOptions {
            connect_timeout: Duration::from_secs(3),
            backoff: Backoff::default(),
        }
    }
}

/// A logged-in connection to one Redis server.
pub struct Connection {
    stream: TcpStream,
    /// The TLS session for `rediss://`; `None` on plain TCP.
    tls: Option<ClientConnection>,
    decoder: Decoder,
    /// Plaintext out of the TLS session, on its way to the decoder.
    plain: Vec<u8>,
    read_buf: Vec<u8>,
    address: String,
}

impl Connection {
    /// Connects to `target`, logs in and selects its database, all within `timeout`; then
    /// PINGs, so a server that wants a password and got none fails here, not later.
    pub async fn open(target: &RedisTarget, timeout: Duration) -> Result<Connection, BrokerError> {
        let address = target.address();
        match monoio::time::timeout(timeout, Connection::open_now(target, address.clone())).await {
            Ok(result) => result,
            Err(_) => Err(BrokerError::Unreachable {
                address,
                reason: format!("no answer within {} ms", timeout.as_millis()),
            }),
        }
    }

    async fn open_now(target: &RedisTarget, address: String) -> Result<Connection, BrokerError> {
        let unreachable = |reason: String| BrokerError::Unreachable {
            address: address.clone(),
            reason,
        };
        let addr = resolve(&target.host, target.port).map_err(unreachable)?;
        let stream = TcpStream::connect_addr(addr)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let (idle, interval, probes) = KEEPALIVE;
        if let Err(e) = stream.set_tcp_keepalive(Some(idle), Some(interval), Some(probes)) {
            tracing::warn!(error = %e, address = %address, "TCP keepalive not set on the Redis link");
        }
        let tls = match target.tls {
            true => Some(tls::session(target).map_err(|reason| BrokerError::Tls {
                address: address.clone(),
                reason,
            })?),
            false => None,
        };
        let mut conn = Connection {
            stream,
            tls,
            decoder: Decoder::default(),
            plain: Vec::new(),
            read_buf: Vec::with_capacity(READ_CHUNK),
            address: address.clone(),
        };
        for (step, cmd) in resp::login_commands(target) {
            conn.write(cmd).await?;
            let reply = conn.read_frame().await?;
            resp::expect_ok(&reply).map_err(|message| match step {
                LoginStep::Auth => BrokerError::Auth {
                    address: address.clone(),
                    message,
                },
                LoginStep::Select => BrokerError::Select {
                    db: target.db,
                    message,
                },
            })?;
        }
        match conn.call(&[b"PING"]).await? {
            OwnedFrame::SimpleString(_) => Ok(conn),
            OwnedFrame::Error(message) if resp::is_auth_error(&message) => {
                Err(BrokerError::Auth { address, message })
            }
            OwnedFrame::Error(e) => Err(BrokerError::Command(e)),
            other => Err(BrokerError::Protocol(format!("PING answered {other:?}"))),
        }
    }

    /// `host:port` of this connection.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Writes `bytes` (one or more encoded commands) completely.
    pub async fn write(&mut self, bytes: Vec<u8>) -> Result<(), BrokerError> {
        let wire = match self.tls.as_mut() {
            None => bytes,
            Some(session) => tls::seal(session, &bytes).map_err(|e| self.tls_failed(e))?,
        };
        self.write_wire(wire).await
    }

    async fn write_wire(&mut self, wire: Vec<u8>) -> Result<(), BrokerError> {
        if wire.is_empty() {
            return Ok(());
        }
        let (res, _) = self.stream.write_all(wire).await;
        res.map(|_| ()).map_err(|e| self.lost(e.to_string()))
    }

    /// The next frame from Redis, reading as much as it takes.
    pub async fn read_frame(&mut self) -> Result<OwnedFrame, BrokerError> {
        loop {
            if let Some(frame) = self.decoder.next_frame()? {
                return Ok(frame);
            }
            let mut buf = std::mem::take(&mut self.read_buf);
            buf.clear();
            let (res, buf) = self.stream.read(buf).await;
            let n = res.map_err(|e| self.lost(e.to_string()))?;
            if n == 0 {
                return Err(self.lost("closed by the server".to_owned()));
            }
            let Some(session) = self.tls.as_mut() else {
                self.decoder.feed(&buf[..n]);
                self.read_buf = buf;
                continue;
            };
            let absorbed = tls::absorb(session, &buf[..n], &mut self.plain);
            // Handshake replies and alerts go out even when the input was refused.
            let reply = tls::outgoing(session);
            self.read_buf = buf;
            self.write_wire(reply).await?;
            absorbed.map_err(|e| self.tls_failed(e))?;
            self.decoder.feed(&self.plain);
            self.plain.clear();
        }
    }

    /// Sends one command and reads its reply (an error line is returned as a frame).
    pub async fn call(&mut self, args: &[&[u8]]) -> Result<OwnedFrame, BrokerError> {
        let mut cmd = Vec::new();
        resp::encode_command(&mut cmd, args);
        self.write(cmd).await?;
        self.read_frame().await
    }

    fn tls_failed(&self, reason: String) -> BrokerError {
        BrokerError::Tls {
            address: self.address.clone(),
            reason,
        }
    }

    fn lost(&self, reason: String) -> BrokerError {
        BrokerError::Lost {
            address: self.address.clone(),
            reason,
        }
    }
}

/// An IP address as is, else the system resolver (blocking: configure an IP where the
/// control core's latency matters).
fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} resolves to no address"))
}

/// Reconnect state of one link: the target, how many attempts failed in a row, and the
/// randomness for the jitter.
pub struct Redial {
    /// Where to reconnect.
    pub target: RedisTarget,
    /// Timing.
    pub options: LinkOptions,
    failures: u32,
    rng: fastrand::Rng,
}

impl Redial {
    /// A fresh state for `target`, jitter drawn from `seed`.
    pub fn new(target: RedisTarget, options: LinkOptions, seed: u64) -> Redial {
        Redial {
            target,
            options,
            failures: 0,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// Attempts since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Records a failed attempt or a lost connection; returns the delay before the next try.
    pub fn failed(&mut self) -> Duration {
        let delay = self.options.backoff.delay(self.failures, self.rng.f64());
        self.failures = self.failures.saturating_add(1);
        delay
    }

    /// Records a success; true when it ended a run of failures (a reconnect).
    pub fn succeeded(&mut self) -> bool {
        std::mem::replace(&mut self.failures, 0) > 0
    }
}
