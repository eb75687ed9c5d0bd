//! A connection's outbound queue and its writer task.
//!
//! Frames are `Bytes` shared with every other subscriber of the same event, so queuing never
//! copies or encodes. Each connection has one writer task for its whole life, parked on a local
//! waker while the queue is empty: queuing a frame on the fan-out path is a refcount bump, a
//! push into a queue that keeps its capacity, and a wake-up, with no allocation per subscriber.
//! Several frames queued while a write is in flight are coalesced into one write, through a
//! buffer the writer keeps between writes while it is busy. Once the queue is empty that buffer
//! is freed and the queue shrinks back to a few slots: otherwise every connection would keep
//! the memory of its largest burst for life, and a long run would creep up to that.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

use bytes::Bytes;

use super::transport::Transport;
use monoio::io::{
    AsyncWriteRent, CancelHandle, CancelableAsyncWriteRentExt, Canceller, OwnedWriteHalf,
};
use monoio::net::TcpStream;

/// The largest coalescing buffer the writer keeps between writes (while busy).
const KEEP_BUFFER: usize = 64 * 1024;
/// Queue slots an idle connection keeps: enough that steady traffic never reallocates.
const IDLE_QUEUE_SLOTS: usize = 4;

/// The most bytes a connection may have queued before it is closed as a slow consumer.
pub const MAX_QUEUED_BYTES: usize = 1024 * 1024;
/// The most frames a connection may have queued before it is closed as a slow consumer.
pub const MAX_QUEUED_FRAMES: usize = 8192;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Accepting frames.
    Open,
    /// A final frame is queued; after the queue drains the write side is shut down.
    Closing,
    /// Nothing more will be written.
    Closed,
}

/// Outbound side of one connection.
pub struct Outbox {
    queue: RefCell<VecDeque<Bytes>>,
    queued_bytes: Cell<usize>,
    /// The writer task, parked while there is nothing to write.
    writer_waker: Cell<Option<Waker>>,
    /// Cancels the writer's pending write (a peer that stopped reading).
    canceller: RefCell<Option<Canceller>>,
    state: Cell<State>,
    /// Plain TCP, or the TLS session that seals every batch.
    transport: Transport,
}

/// What `Outbox::send` did with a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queued {
    /// The frame is queued.
    Yes,
    /// The connection is closing or closed; the frame was dropped.
    Closed,
    /// Queuing it would exceed [`MAX_QUEUED_BYTES`]; the frame was dropped.
    Overflow,
}

impl Outbox {
    /// Wraps the write half of a fresh connection and starts its writer task.
    pub fn new(writer: OwnedWriteHalf<TcpStream>, transport: Transport) -> Rc<Self> {
        let canceller = Canceller::new();
        let cancel = canceller.handle();
        let outbox = Rc::new(Outbox {
            queue: RefCell::new(VecDeque::new()),
            queued_bytes: Cell::new(0),
            writer_waker: Cell::new(None),
            canceller: RefCell::new(Some(canceller)),
            state: Cell::new(State::Open),
            transport,
        });
        monoio::spawn(write_loop(outbox.clone(), writer, cancel));
        outbox
    }

    /// Queues one complete WebSocket frame.
    pub fn send(self: &Rc<Self>, frame: Bytes) -> Queued {
        if self.state.get() != State::Open {
            return Queued::Closed;
        }
        let queued = self.queued_bytes.get() + frame.len();
        if queued > MAX_QUEUED_BYTES || self.queue.borrow().len() >= MAX_QUEUED_FRAMES {
            return Queued::Overflow;
        }
        self.queued_bytes.set(queued);
        self.queue.borrow_mut().push_back(frame);
        self.kick();
        Queued::Yes
    }

    /// Queues a last frame (normally a close frame); afterwards the write side is shut down and
    /// every later frame is dropped.
    pub fn close_with(self: &Rc<Self>, last: Option<Bytes>) {
        if self.state.get() != State::Open {
            return;
        }
        if let Some(frame) = last {
            self.queued_bytes.set(self.queued_bytes.get() + frame.len());
            self.queue.borrow_mut().push_back(frame);
        }
        self.state.set(State::Closing);
        self.kick();
    }

    /// Drops everything queued and stops writing (the peer is gone).
    pub fn abandon(&self) {
        self.state.set(State::Closed);
        self.queue.borrow_mut().clear();
        self.queued_bytes.set(0);
        self.kick();
    }

    /// Like [`abandon`](Self::abandon), and also cancels a write stuck on a peer that stopped
    /// reading, so its socket and queued frames are freed now.
    pub fn abort(&self) {
        self.abandon();
        if let Some(canceller) = self.canceller.borrow_mut().take() {
            canceller.cancel();
        }
    }

    /// Starts the writer for bytes the transport itself wants sent (TLS handshake or alerts).
    pub fn flush_transport(&self) {
        if self.state.get() != State::Closed {
            self.kick();
        }
    }

    /// True once a close was requested or the peer went away.
    pub fn is_closing(&self) -> bool {
        self.state.get() != State::Open
    }

    /// Bytes waiting to be written.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes.get()
    }

    /// Wakes the writer task if it is parked.
    fn kick(&self) {
        if let Some(waker) = self.writer_waker.take() {
            waker.wake();
        }
    }

    /// True when the writer has something to do: frames, TLS records, or a close.
    fn has_work(&self) -> bool {
        !self.queue.borrow().is_empty()
            || self.transport.wants_write()
            || self.state.get() != State::Open
    }

    /// Gives back what a burst left behind once the queue is empty: the coalescing buffer and
    /// queue slots beyond [`IDLE_QUEUE_SLOTS`].
    fn release_idle(&self, spare: &mut Option<Vec<u8>>) {
        *spare = None;
        let mut queue = self.queue.borrow_mut();
        if queue.is_empty() && queue.capacity() > IDLE_QUEUE_SLOTS {
            queue.shrink_to(IDLE_QUEUE_SLOTS);
        }
    }

    /// Takes the next batch: one frame as is, several coalesced into `spare`.
    fn next_batch(&self, spare: &mut Option<Vec<u8>>) -> Option<Batch> {
        let mut queue = self.queue.borrow_mut();
        let batch = match queue.len() {
            0 => return None,
            1 => Batch::One(queue.pop_front()?),
            _ => {
                let mut buf = spare.take().unwrap_or_default();
                buf.clear();
                buf.reserve(self.queued_bytes.get());
                for frame in queue.drain(..) {
                    buf.extend_from_slice(&frame);
                }
                Batch::Many(buf)
            }
        };
        self.queued_bytes
            .set(self.queued_bytes.get().saturating_sub(batch.len()));
        Some(batch)
    }
}

/// Under TLS a batch becomes its sealed records; plain TCP passes it through.
fn seal(transport: &Transport, batch: Batch) -> std::io::Result<Batch> {
    let plain: &[u8] = match &batch {
        Batch::One(b) => b,
        Batch::Many(v) => v,
    };
    Ok(match transport.seal(plain)? {
        Some(sealed) => Batch::Many(sealed),
        None => batch,
    })
}

enum Batch {
    One(Bytes),
    Many(Vec<u8>),
}

impl Batch {
    fn len(&self) -> usize {
        match self {
            Batch::One(b) => b.len(),
            Batch::Many(v) => v.len(),
        }
    }
}

thread_local! {
    /// Writer tasks alive on this thread. One shard runs per thread, so this is the shard's
    /// count; shutdown waits for it to reach zero so close frames are flushed, not dropped
    /// with the runtime.
    static LIVE_WRITERS: Cell<usize> = const { Cell::new(0) };
}

/// How many connections on this shard still have a writer task (queued bytes, or a socket
/// not yet shut down).
pub fn live_writers() -> usize {
    LIVE_WRITERS.with(Cell::get)
}

/// Counts a writer task for as long as it lives, however it ends.
struct LiveWriter;

impl LiveWriter {
    fn enter() -> Self {
        LIVE_WRITERS.with(|n| n.set(n.get() + 1));
        LiveWriter
    }
}

impl Drop for LiveWriter {
    fn drop(&mut self) {
        LIVE_WRITERS.with(|n| n.set(n.get() - 1));
    }
}

async fn write_loop(
    outbox: Rc<Outbox>,
    mut writer: OwnedWriteHalf<TcpStream>,
    cancel: CancelHandle,
) {
    let _live = LiveWriter::enter();
    // The coalescing buffer, handed back by each write and kept while it is small.
    let mut spare: Option<Vec<u8>> = None;
    loop {
        poll_fn(|cx| {
            if outbox.has_work() {
                return Poll::Ready(());
            }
            outbox.writer_waker.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await;
        if !write_queued(&outbox, &mut writer, &cancel, &mut spare).await {
            outbox.abandon();
            return;
        }
        match outbox.state.get() {
            // Everything queued is written: idle until the next frame.
            State::Open => outbox.release_idle(&mut spare),
            State::Closing => {
                let notify = outbox.transport.pending(true);
                if !notify.is_empty() {
                    let _ =
                        CancelableAsyncWriteRentExt::write_all(&mut writer, notify, cancel).await;
                }
                let _ = writer.shutdown().await;
                outbox.state.set(State::Closed);
                return;
            }
            State::Closed => return,
        }
    }
}

/// Writes everything queued (and TLS records the session wants sent); false on a write error.
async fn write_queued(
    outbox: &Outbox,
    writer: &mut OwnedWriteHalf<TcpStream>,
    cancel: &CancelHandle,
    spare: &mut Option<Vec<u8>>,
) -> bool {
    loop {
        let batch = match outbox.next_batch(spare) {
            Some(batch) => match seal(&outbox.transport, batch) {
                Ok(batch) => batch,
                Err(_) => return false,
            },
            None if outbox.transport.wants_write() => Batch::Many(outbox.transport.pending(false)),
            None => return true,
        };
        let result = match batch {
            Batch::One(frame) => {
                CancelableAsyncWriteRentExt::write_all(writer, frame, cancel.clone())
                    .await
                    .0
            }
            Batch::Many(buf) => {
                let (result, buf) =
                    CancelableAsyncWriteRentExt::write_all(writer, buf, cancel.clone()).await;
                if buf.capacity() <= KEEP_BUFFER {
                    *spare = Some(buf);
                }
                result
            }
        };
        if result.is_err() {
            // The peer is gone; the reader will notice too and clean up the connection.
            return false;
        }
    }
}
