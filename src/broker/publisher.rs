//! The publishing half of the link: one connection that PUBLISHes this node's events.
//!
//! Each event gets the next sequence number of this node whether or not it goes out, so
//! peers see a gap for every event lost. An event that cannot be sent is never dropped
//! silently: the call returns an error and `unpublished` counts it. While Redis is down
//! a publish does not wait: between reconnect attempts (backoff with jitter) it fails at
//! once with [`BrokerError::Down`]. An event whose write failed is not retried (Redis may
//! have received it; a retry could deliver it twice).

use std::time::Instant;

use super::link::{Connection, LinkOptions, Redial};
use super::{resp, BrokerError, Envelope, Event};
use crate::config::RedisTarget;

/// What a publisher has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishStats {
    /// Events Redis accepted.
    pub published: u64,
    /// Events that could not be sent (Redis down, connection lost, command refused).
    pub unpublished: u64,
    /// Connections re-established after a failure.
    pub reconnects: u64,
}

/// This node's publishing connection.
pub struct Publisher {
    conn: Option<Connection>,
    redial: Redial,
    retry_at: Option<Instant>,
    channel: String,
    origin: String,
    next_seq: u64,
    stats: PublishStats,
}

impl Publisher {
    /// Connects for node `origin` to publish on `channel`; fails (naming the address) when
    /// Redis cannot be reached now, so a node finds out at start.
    pub async fn connect(
        target: RedisTarget,
        channel: &str,
        origin: &str,
        options: LinkOptions,
    ) -> Result<Publisher, BrokerError> {
        let conn = Connection::open(&target, options.connect_timeout).await?;
        let seed = fastrand::u64(..);
        Ok(Publisher {
            conn: Some(conn),
            redial: Redial::new(target, options, seed),
            retry_at: None,
            channel: channel.to_owned(),
            origin: origin.to_owned(),
            next_seq: 1,
            stats: PublishStats::default(),
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> PublishStats {
        self.stats
    }

    /// Publishes one event; returns how many subscribers (nodes) Redis handed it to.
    pub async fn publish(&mut self, event: Event) -> Result<u64, BrokerError> {
        self.publish_batch(std::slice::from_ref(&event)).await
    }

    /// Publishes `events` pipelined (one write, then the replies), in order; returns the
    /// subscriber count summed over them. On failure the events Redis accepted count as
    /// published, the rest as unpublished; a refusal (an error line, e.g. an ACL `NOPERM`)
    /// is returned after all replies were read and keeps the connection.
    pub async fn publish_batch(&mut self, events: &[Event]) -> Result<u64, BrokerError> {
        let first_seq = self.next_seq;
        self.next_seq += events.len() as u64;
        let mut wire = Vec::new();
        for (seq, event) in (first_seq..).zip(events) {
            let payload = Envelope::new(&self.origin, seq, event.clone()).encode();
            resp::encode_command(&mut wire, &[b"PUBLISH", self.channel.as_bytes(), &payload]);
        }
        self.redial_if_due().await;
        let Some(conn) = self.conn.as_mut() else {
            self.stats.unpublished += events.len() as u64;
            return Err(BrokerError::Down {
                address: self.redial.target.address(),
            });
        };
        let (mut accepted, mut receivers) = (0u64, 0u64);
        let mut refused = None;
        // Every reply is read, refused ones too, so the connection stays in step.
        let io = async {
            conn.write(wire).await?;
            for _ in events {
                match resp::integer(conn.read_frame().await?) {
                    Ok(n) => {
                        accepted += 1;
                        receivers += n.max(0) as u64;
                    }
                    Err(e @ BrokerError::Command(_)) => {
                        refused.get_or_insert(e);
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        }
        .await;
        self.stats.published += accepted;
        self.stats.unpublished += events.len() as u64 - accepted;
        if let Err(e) = io {
            self.drop_connection(&e);
            return Err(e);
        }
        match refused {
            Some(e) => {
                tracing::warn!(error = %e, refused = events.len() as u64 - accepted, "Redis refused events");
                Err(e)
            }
            None => Ok(receivers),
        }
    }

    /// Whether the connection is up (as of the last publish or probe).
    pub fn is_up(&self) -> bool {
        self.conn.is_some()
    }

    /// Checks the link while no event is sent: PINGs an open connection (dropping it when
    /// Redis does not answer) and redials a closed one once its backoff delay has passed.
    pub async fn probe(&mut self) {
        let Some(conn) = self.conn.as_mut() else {
            self.redial_if_due().await;
            return;
        };
        // A Redis that stopped answering (not closed) is down too; the connection is dropped
        // on a timeout, so losing the half-read reply does not matter.
        let limit = self.redial.options.connect_timeout;
        let reply = match monoio::time::timeout(limit, conn.call(&[b"PING"])).await {
            Ok(reply) => reply,
            Err(_) => Err(BrokerError::Lost {
                address: self.redial.target.address(),
                reason: format!("no answer to PING within {} ms", limit.as_millis()),
            }),
        };
        match reply {
            Ok(redis_protocol::resp2::types::OwnedFrame::SimpleString(_)) => {}
            Ok(other) => {
                let e = BrokerError::Protocol(format!("PING answered {other:?}"));
                self.drop_connection(&e);
            }
            Err(e) => self.drop_connection(&e),
        }
    }

    /// Reconnects when there is no connection and the backoff delay has passed.
    async fn redial_if_due(&mut self) {
        if self.conn.is_none() && self.retry_at.map_or(true, |t| Instant::now() >= t) {
            let options = self.redial.options;
            match Connection::open(&self.redial.target, options.connect_timeout).await {
                Ok(conn) => {
                    if self.redial.succeeded() {
                        self.stats.reconnects += 1;
                    }
                    tracing::info!(address = conn.address(), "publisher reconnected to Redis");
                    self.retry_at = None;
                    self.conn = Some(conn);
                }
                Err(e) => self.drop_connection(&e),
            }
        }
    }

    fn drop_connection(&mut self, error: &BrokerError) {
        self.conn = None;
        let delay = self.redial.failed();
        self.retry_at = Some(Instant::now() + delay);
        tracing::warn!(
            error = %error,
            failures = self.redial.failures(),
            retry_in_ms = delay.as_millis() as u64,
            unpublished = self.stats.unpublished,
            "Redis publisher is down"
        );
    }
}
