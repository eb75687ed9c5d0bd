//! Kept-alive connections and concurrency bounds for the control core's webhook requests.
//!
//! Connections are kept per origin (scheme, host name and the resolved address actually
//! connected to, so a connection never outlives the SSRF check of its address): after an
//! answer that allows it, the connection goes back to a bounded idle list and the next request
//! to that origin reuses it. Idle connections older than [`IDLE_FOR`] are dropped rather than
//! reused, since receivers close theirs after a few seconds (Node's default is 5 s); a reused
//! connection that turns out closed before any byte of the answer is replaced by a fresh one
//! once.
//!
//! Concurrency is bounded per origin and globally by [`Slots`], a counting semaphore for one
//! thread: a request holds an origin slot, then a global one, until its answer is read, so a
//! slow receiver fills only its own slots. It runs on one monoio runtime (the control core);
//! nothing here is shared across threads.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

use super::http_client::{exchange, ClientError, Reply};
use super::http_conn::Conn;

/// How long an idle connection is kept for reuse.
pub const IDLE_FOR: Duration = Duration::from_secs(4);

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// TLS (https) or plain.
    pub https: bool,
    /// The URL's host: the TLS server name checked against the certificate.
    pub host: String,
    /// The checked address connected to.
    pub addr: SocketAddr,
}

/// The pool's bounds.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Requests in flight over all origins.
    pub total: usize,
    /// Requests in flight to one origin.
    pub per_origin: usize,
    /// Idle connections kept per origin.
    pub idle_per_origin: usize,
}

/// A counting semaphore for one thread. Waiters are all woken on a release and race for the
/// slot, so a waiter dropped while woken (a timeout) never strands a free slot.
pub struct Slots {
    free: Cell<usize>,
    waiters: RefCell<VecDeque<Waker>>,
}

impl Slots {
    /// `n` free slots.
    pub fn new(n: usize) -> Rc<Slots> {
        Rc::new(Slots {
            free: Cell::new(n),
            waiters: RefCell::new(VecDeque::new()),
        })
    }

    /// Waits for a free slot; it is held until the guard drops.
    pub async fn acquire(self: &Rc<Self>) -> SlotGuard {
        poll_fn(|cx| {
            let free = self.free.get();
            if free > 0 {
                self.free.set(free - 1);
                return Poll::Ready(SlotGuard(self.clone()));
            }
            self.waiters.borrow_mut().push_back(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

/// One held slot.
pub struct SlotGuard(Rc<Slots>);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.0.free.set(self.0.free.get() + 1);
        let waiters = std::mem::take(&mut *self.0.waiters.borrow_mut());
        for w in waiters {
            w.wake();
        }
    }
}

/// The right to send one request to an origin.
pub struct Permit {
    origin: Origin,
    _origin_slot: SlotGuard,
    _total_slot: SlotGuard,
}

/// Idle connections and slots, per origin.
pub struct Pool {
    bounds: Bounds,
    tls: Arc<ClientConfig>,
    total: Rc<Slots>,
    per_origin: RefCell<HashMap<Origin, Rc<Slots>>>,
    idle: RefCell<HashMap<Origin, Vec<(Conn, Instant)>>>,
}

impl Pool {
    /// An empty pool; https receivers are checked against `tls`'s roots.
    pub fn new(bounds: Bounds, tls: Arc<ClientConfig>) -> Pool {
        Pool {
            bounds,
            tls,
            total: Slots::new(bounds.total),
            per_origin: RefCell::new(HashMap::new()),
            idle: RefCell::new(HashMap::new()),
        }
    }

    /// Waits for a slot of `origin`, then a global one.
    pub async fn acquire(&self, origin: &Origin) -> Permit {
        let slots = self
            .per_origin
            .borrow_mut()
            .entry(origin.clone())
            .or_insert_with(|| Slots::new(self.bounds.per_origin))
            .clone();
        let origin_slot = slots.acquire().await;
        let total_slot = self.total.acquire().await;
        Permit {
            origin: origin.clone(),
            _origin_slot: origin_slot,
            _total_slot: total_slot,
        }
    }

    /// Sends `request` under `permit` on an idle connection when there is one, else a new
    /// one, and reads the answer, all within `timeout`.
    pub async fn send(
        &self,
        permit: &Permit,
        request: Vec<u8>,
        timeout: Duration,
        max_body: usize,
    ) -> Result<Reply, ClientError> {
        let origin = &permit.origin;
        let once = async {
            if let Some(mut conn) = self.take_idle(origin) {
                match exchange(&mut conn, request.clone(), max_body).await {
                    Ok(done) => {
                        self.put_back(origin, conn, done.reusable);
                        return Ok(done.reply);
                    }
                    // Closed while idle: the request goes again on a fresh connection.
                    Err(failed) if failed.unanswered => {}
                    Err(failed) => return Err(failed.error),
                }
            }
            let mut conn = self.open(origin).await?;
            let done = exchange(&mut conn, request, max_body)
                .await
                .map_err(|failed| failed.error)?;
            self.put_back(origin, conn, done.reusable);
            Ok(done.reply)
        };
        match monoio::time::timeout(timeout, once).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout(timeout)),
        }
    }

    async fn open(&self, origin: &Origin) -> Result<Conn, ClientError> {
        let session = match origin.https {
            false => None,
            true => {
                let name = ServerName::try_from(origin.host.clone())
                    .map_err(|e| ClientError::Tls(format!("{}: {e}", origin.host)))?;
                let session = ClientConnection::new(self.tls.clone(), name)
                    .map_err(|e| ClientError::Tls(e.to_string()))?;
                Some(session)
            }
        };
        Conn::connect(origin.addr, session).await
    }

    /// The most recently used idle connection of `origin` still fresh enough; staler ones are
    /// closed.
    fn take_idle(&self, origin: &Origin) -> Option<Conn> {
        let mut idle = self.idle.borrow_mut();
        let list = idle.get_mut(origin)?;
        let now = Instant::now();
        list.retain(|(_, since)| now.duration_since(*since) < IDLE_FOR);
        let conn = list.pop().map(|(conn, _)| conn);
        if list.is_empty() {
            idle.remove(origin);
        }
        conn
    }

    fn put_back(&self, origin: &Origin, conn: Conn, reusable: bool) {
        if !reusable || self.bounds.idle_per_origin == 0 {
            return;
        }
        let mut idle = self.idle.borrow_mut();
        let list = idle.entry(origin.clone()).or_default();
        if list.len() >= self.bounds.idle_per_origin {
            // Full: the oldest goes.
            list.remove(0);
        }
        list.push((conn, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_bound_holders_and_a_release_lets_a_waiter_in() {
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        rt.block_on(async {
            let slots = Slots::new(2);
            let a = slots.acquire().await;
            let _b = slots.acquire().await;
            assert_eq!(slots.free.get(), 0);
            let short = Duration::from_millis(20);
            assert!(monoio::time::timeout(short, slots.acquire()).await.is_err());
            let waiter = monoio::spawn({
                let slots = slots.clone();
                async move {
                    let _c = slots.acquire().await;
                }
            });
            monoio::time::sleep(short).await;
            drop(a);
            monoio::time::timeout(Duration::from_secs(1), waiter)
                .await
                .expect("the waiter got the released slot");
            assert_eq!(slots.free.get(), 1);
        });
    }
}
