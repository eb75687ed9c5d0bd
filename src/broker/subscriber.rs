//! The subscribing half of the link: one connection SUBSCRIBEd to the scaling channel,
//! yielding the other nodes' events.
//!
//! [`Subscriber::next`] never gives up: a lost connection is re-established with backoff and
//! jitter and subscribed again. It drops this node's own events (Redis echoes them back;
//! they were delivered locally already), unreadable messages and stale sequence numbers,
//! and counts each of those and every gap in a peer's sequence, so nothing vanishes uncounted.

use monoio::time::sleep;

use super::envelope::{SeqCheck, SeqTracker};
use super::link::{Connection, LinkOptions, Redial};
use super::resp::{self, Push};
use super::{BrokerError, Envelope};
use crate::config::RedisTarget;

/// What a subscriber has seen so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubscribeStats {
    /// Events from other nodes handed out.
    pub received: u64,
    /// This node's own events, skipped.
    pub own_skipped: u64,
    /// Messages that were not readable envelopes, skipped.
    pub malformed: u64,
    /// Events not newer than one already handed out from the same node, skipped.
    pub stale: u64,
    /// Events other nodes numbered but that never arrived (sequence gaps).
    pub missed: u64,
    /// Subscriptions re-established after a failure.
    pub reconnects: u64,
}

/// This node's subscription to the scaling channel.
pub struct Subscriber {
    conn: Option<Connection>,
    redial: Redial,
    channel: String,
    me: String,
    tracker: SeqTracker,
    stats: SubscribeStats,
}

impl Subscriber {
    /// Subscribes node `me` to `channel`; fails (naming the address) when Redis cannot be
    /// reached now. Returns once Redis confirmed the subscription.
    pub async fn connect(
        target: RedisTarget,
        channel: &str,
        me: &str,
        options: LinkOptions,
    ) -> Result<Subscriber, BrokerError> {
        let conn = subscribe(&target, channel, &options).await?;
        Ok(Subscriber {
            conn: Some(conn),
            redial: Redial::new(target, options, fastrand::u64(..)),
            channel: channel.to_owned(),
            me: me.to_owned(),
            tracker: SeqTracker::default(),
            stats: SubscribeStats::default(),
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> SubscribeStats {
        self.stats
    }

    /// The next event from another node, reconnecting as long as it takes.
    pub async fn next(&mut self) -> Envelope {
        loop {
            let Some(conn) = self.conn.as_mut() else {
                self.resubscribe().await;
                continue;
            };
            match conn.read_frame().await.and_then(resp::push) {
                Ok(Push::Message { payload, .. }) => {
                    if let Some(envelope) = self.accept(&payload) {
                        return envelope;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "Redis subscription lost");
                    self.conn = None;
                }
            }
        }
    }

    /// Waits out the backoff, then subscribes again once.
    async fn resubscribe(&mut self) {
        sleep(self.redial.failed()).await;
        match subscribe(&self.redial.target, &self.channel, &self.redial.options).await {
            Ok(conn) => {
                self.redial.succeeded();
                self.stats.reconnects += 1;
                tracing::info!(address = conn.address(), "subscriber reconnected to Redis");
                self.conn = Some(conn);
            }
            Err(e) => tracing::warn!(
                error = %e,
                failures = self.redial.failures(),
                "Redis subscriber still down"
            ),
        }
    }

    /// The envelope in `payload` if it is another node's, new, and readable.
    fn accept(&mut self, payload: &[u8]) -> Option<Envelope> {
        let envelope = match Envelope::decode(payload) {
            Ok(e) => e,
            Err(e) => {
                self.stats.malformed += 1;
                tracing::warn!(error = %e, "skipped a message on the scaling channel");
                return None;
            }
        };
        if envelope.origin == self.me {
            self.stats.own_skipped += 1;
            return None;
        }
        match self.tracker.observe(&envelope.origin, envelope.seq) {
            SeqCheck::InOrder => {}
            SeqCheck::Gap(n) => {
                self.stats.missed += n;
                tracing::warn!(origin = %envelope.origin, missed = n, "events from a node were lost");
            }
            SeqCheck::Stale => {
                self.stats.stale += 1;
                return None;
            }
        }
        self.stats.received += 1;
        Some(envelope)
    }
}

/// Opens a connection and subscribes it to `channel`, waiting for Redis's confirmation.
async fn subscribe(
    target: &RedisTarget,
    channel: &str,
    options: &LinkOptions,
) -> Result<Connection, BrokerError> {
    let mut conn = Connection::open(target, options.connect_timeout).await?;
    let mut cmd = Vec::new();
    resp::encode_command(&mut cmd, &[b"SUBSCRIBE", channel.as_bytes()]);
    conn.write(cmd).await?;
    loop {
        if let Push::Subscribed { .. } = resp::push(conn.read_frame().await?)? {
            return Ok(conn);
        }
    }
}
