//! Scatter-gather for REST reads: ask every core for its part, wait for all answers.
//!
//! Counts are always computed from the owners' live state at the time of the request, never
//! cached. A question is answered by each core from its drain task; the asking task sleeps on a
//! local waker until the last part arrives or the deadline passes.

use std::collections::HashMap;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use super::owner::send;
use crate::control::Answer;
use crate::proto::api::realtime::RealtimeError;
use crate::shard::state::{ChannelFilter, CoreMsg, Query, QueryPart, Shard};
use crate::store::StoreError;

/// How long a REST read waits for the other cores.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// Questions this core is waiting on, by id.
#[derive(Default)]
pub struct Asks {
    next: usize,
    pending: HashMap<usize, PendingAsk>,
}

struct PendingAsk {
    remaining: usize,
    parts: Vec<Reply>,
    waker: Option<Waker>,
}

/// One core's reply to a question.
#[derive(Debug)]
pub enum Reply {
    /// Part of a channel query.
    Query(QueryPart),
    /// Whether a connection from an address may be accepted, or how long until it may.
    Admit(Result<(), Duration>),
    /// A collection registration: the channel to subscribe to, or the refusal.
    Registered(Result<String, RealtimeError>),
    /// The control core's answer (see `cores::control`).
    Control(Box<Result<Answer, StoreError>>),
}

/// Asks every core (this one included) and returns all parts, or `None` on timeout.
pub async fn ask_all(shard: &Rc<Shard>, query: Query) -> Option<Vec<QueryPart>> {
    let query = Arc::new(query);
    let replies = ask(shard, 0..shard.config.workers, |from, id, _| CoreMsg::Ask {
        from,
        id,
        query: query.clone(),
    })
    .await?;
    Some(
        replies
            .into_iter()
            .filter_map(|r| match r {
                Reply::Query(part) => Some(part),
                Reply::Admit(_) | Reply::Registered(_) | Reply::Control(_) => None,
            })
            .collect(),
    )
}

/// Sends the message `make(from, id, dst)` to each core in `cores` and waits for all replies.
pub async fn ask(
    shard: &Rc<Shard>,
    cores: impl ExactSizeIterator<Item = usize>,
    make: impl Fn(usize, usize, usize) -> CoreMsg,
) -> Option<Vec<Reply>> {
    let id = open(shard, cores.len());
    for dst in cores {
        send(shard, dst, make(shard.id, id, dst));
    }
    wait(shard, id, ASK_TIMEOUT).await
}

/// Registers a question expecting `expected` replies; returns its id for [`on_answer`].
pub fn open(shard: &Shard, expected: usize) -> usize {
    let mut asks = shard.asks.borrow_mut();
    asks.next += 1;
    let id = asks.next;
    asks.pending.insert(
        id,
        PendingAsk {
            remaining: expected,
            parts: Vec::with_capacity(expected),
            waker: None,
        },
    );
    id
}

/// Waits for every reply to question `id`, or `None` after `timeout` (the question is then
/// forgotten, and late replies are dropped).
pub async fn wait(shard: &Shard, id: usize, timeout: Duration) -> Option<Vec<Reply>> {
    let wait = poll_fn(|cx| {
        let mut asks = shard.asks.borrow_mut();
        let Some(ask) = asks.pending.get_mut(&id) else {
            return Poll::Ready(None);
        };
        if ask.remaining == 0 {
            return Poll::Ready(asks.pending.remove(&id).map(|a| a.parts));
        }
        ask.waker = Some(cx.waker().clone());
        Poll::Pending
    });
    let result = monoio::time::timeout(timeout, wait).await.ok().flatten();
    shard.asks.borrow_mut().pending.remove(&id);
    result
}

/// Records one core's answer.
pub fn on_answer(shard: &Shard, id: usize, part: Reply) {
    let mut asks = shard.asks.borrow_mut();
    if let Some(ask) = asks.pending.get_mut(&id) {
        ask.parts.push(part);
        ask.remaining = ask.remaining.saturating_sub(1);
        if ask.remaining == 0 {
            if let Some(w) = ask.waker.take() {
                w.wake();
            }
        }
    }
}

/// This core's part of the answer to `query`.
pub fn answer(shard: &Shard, query: &Query) -> QueryPart {
    let mut part = QueryPart::default();
    let index = shard.channels.borrow();
    part.subscriptions = index
        .channels(query.app)
        .filter(|(name, _)| query.filter.matches(name))
        .map(|(name, n)| (Arc::from(&**name), n as u64))
        .collect();
    let presence = shard.presence.borrow();
    part.users = presence
        .channels(query.app)
        .filter(|(name, _)| query.filter.matches(name))
        .map(|(name, n)| (name.clone(), n as u64))
        .collect();
    if let (true, ChannelFilter::Exact(channel)) = (query.with_members, &query.filter) {
        part.members = presence
            .members(query.app, channel)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
    }
    part
}
