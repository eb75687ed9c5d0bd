//! This shard's end of the control star: asking the control core and collecting its answers.
//!
//! A question goes into the shard's SPSC ring toward the control core; the answer comes back
//! in the ring from it and is handed to the waiting task through the same registry as
//! scatter-gather reads (`gather::open` / `gather::wait`), so a shard never blocks on the
//! control core: it awaits with a timeout, and the REST handler answers 503 when it passes.
//! A shard never touches the store itself.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use super::gather::{self, Reply};
use crate::control::{Answer, ControlMsg, Request};
use crate::ring::{BellHandle, Endpoint};
use crate::shard::state::Shard;
use crate::store::StoreError;

/// How long a REST request waits for the control core.
pub const CONTROL_TIMEOUT: Duration = Duration::from_secs(5);
/// Replies handled per drain pass.
const DRAIN_BATCH: usize = 256;
/// How long the drain task waits before retrying questions that found the ring full.
const OVERFLOW_RETRY: Duration = Duration::from_millis(1);

/// A shard's link to the control core.
pub struct ControlLink {
    ring: RefCell<Endpoint<ControlMsg>>,
    bell: BellHandle,
    /// The control core's index in the control star (the last one).
    core: usize,
}

impl ControlLink {
    /// The link over `ring`, this shard's endpoint of the control star.
    pub fn new(ring: Endpoint<ControlMsg>) -> Self {
        ControlLink {
            bell: ring.bell(),
            core: ring.cores() - 1,
            ring: RefCell::new(ring),
        }
    }
}

/// Asks the control core to run `request`; `None` when it did not answer in time.
pub async fn ask(shard: &Shard, request: Request) -> Option<Result<Answer, StoreError>> {
    let request = Box::new(request);
    ask_with(shard, |from, id| ControlMsg::Request { from, id, request }).await
}

/// Sends the control core the question `ask(this shard, question id)` builds and waits for
/// its [`ControlMsg::Reply`]; `None` when it did not answer in time.
pub async fn ask_with(
    shard: &Shard,
    ask: impl FnOnce(usize, usize) -> ControlMsg,
) -> Option<Result<Answer, StoreError>> {
    let id = gather::open(shard, 1);
    let link = &shard.control;
    link.ring.borrow_mut().send(link.core, ask(shard.id, id));
    match gather::wait(shard, id, CONTROL_TIMEOUT).await?.pop()? {
        Reply::Control(reply) => Some(*reply),
        _ => None,
    }
}

/// Hands a Pusher channel webhook event to the control core, without waiting for anything.
pub fn notify(shard: &Shard, app: usize, event: crate::webhook::body::PusherEvent) {
    tell(
        shard,
        ControlMsg::PusherEvent {
            app,
            event: Box::new(event),
        },
    );
}

/// Sends the control core a message that wants no answer.
pub fn tell(shard: &Shard, msg: ControlMsg) {
    let link = &shard.control;
    link.ring.borrow_mut().send(link.core, msg);
}

/// Hands the control core's replies to the tasks waiting for them, forever.
pub async fn drain_task(shard: Rc<Shard>) {
    let link = &shard.control;
    let has_work = || link.ring.borrow().has_incoming();
    loop {
        let waiting = link.ring.borrow_mut().flush_overflow();
        if waiting {
            let _ = monoio::time::timeout(OVERFLOW_RETRY, link.bell.wait(has_work)).await;
        } else {
            link.bell.wait(has_work).await;
        }
        let mut replies = Vec::with_capacity(DRAIN_BATCH);
        link.ring
            .borrow_mut()
            .drain(DRAIN_BATCH, |m| replies.push(m));
        for msg in replies {
            match msg {
                ControlMsg::Reply { id, reply } => {
                    gather::on_answer(&shard, id, Reply::Control(reply));
                }
                // A due notification: published like a REST event, on every node.
                ControlMsg::Notify(n) => {
                    super::relay::publish_event(&shard, n.app, &n.channel, n.frame, None);
                }
                ControlMsg::Remote(event) => super::relay::on_remote(&shard, *event),
                ControlMsg::ClusterDone(done) => super::cluster::on_done(&shard, *done),
                ControlMsg::Request { .. }
                | ControlMsg::Forward(_)
                | ControlMsg::Cluster(_)
                | ControlMsg::PusherEvent { .. } => {}
            }
        }
    }
}
