//! A connection's outbound queue and its on-demand writer task.
//!
//! An idle connection owns no write buffer and no writer task: the write half rests here. The
//! first frame queued spawns a writer that drains the queue (several frames coalesced into one
//! write) and puts the write half back when the queue is empty. Frames are `Bytes`, shared with
//! every other subscriber of the same event, so queuing never copies or encodes.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use bytes::Bytes;

use super::transport::Transport;
use monoio::io::{
    AsyncWriteRent, CancelHandle, CancelableAsyncWriteRentExt, Canceller, OwnedWriteHalf,
};
use monoio::net::TcpStream;

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
    /// The write half while no writer task runs; `None` while one does.
    idle_writer: RefCell<Option<OwnedWriteHalf<TcpStream>>>,
    /// Cancels the running writer's pending write (only while one runs).
    writing: RefCell<Option<Canceller>>,
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
    /// Wraps the write half of a fresh connection.
    pub fn new(writer: OwnedWriteHalf<TcpStream>, transport: Transport) -> Rc<Self> {
        Rc::new(Outbox {
            queue: RefCell::new(VecDeque::new()),
            queued_bytes: Cell::new(0),
            idle_writer: RefCell::new(Some(writer)),
            writing: RefCell::new(None),
            state: Cell::new(State::Open),
            transport,
        })
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
        self.idle_writer.borrow_mut().take();
    }

    /// Like [`abandon`](Self::abandon), and also cancels a write stuck on a peer that stopped
    /// reading, so its socket and queued frames are freed now.
    pub fn abort(&self) {
        self.abandon();
        if let Some(canceller) = self.writing.borrow_mut().take() {
            canceller.cancel();
        }
    }

    /// Starts the writer for bytes the transport itself wants sent (TLS handshake or alerts).
    pub fn flush_transport(self: &Rc<Self>) {
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

    /// Starts the writer task unless one is already running.
    fn kick(self: &Rc<Self>) {
        if let Some(writer) = self.idle_writer.borrow_mut().take() {
            let canceller = Canceller::new();
            let cancel = canceller.handle();
            *self.writing.borrow_mut() = Some(canceller);
            monoio::spawn(write_loop(self.clone(), writer, cancel));
        }
    }

    /// Takes the next batch: one frame as is, several coalesced into one buffer.
    fn next_batch(&self) -> Option<Batch> {
        let mut queue = self.queue.borrow_mut();
        let batch = match queue.len() {
            0 => return None,
            1 => Batch::One(queue.pop_front()?),
            _ => {
                let mut buf = Vec::with_capacity(self.queued_bytes.get());
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

async fn write_loop(
    outbox: Rc<Outbox>,
    mut writer: OwnedWriteHalf<TcpStream>,
    cancel: CancelHandle,
) {
    loop {
        let batch = match outbox.next_batch() {
            Some(batch) => match seal(&outbox.transport, batch) {
                Ok(batch) => batch,
                Err(_) => {
                    outbox.abandon();
                    return;
                }
            },
            None if outbox.transport.wants_write() => Batch::Many(outbox.transport.pending(false)),
            None => break,
        };
        let result = match batch {
            Batch::One(frame) => {
                CancelableAsyncWriteRentExt::write_all(&mut writer, frame, cancel.clone())
                    .await
                    .0
            }
            Batch::Many(buf) => {
                CancelableAsyncWriteRentExt::write_all(&mut writer, buf, cancel.clone())
                    .await
                    .0
            }
        };
        if result.is_err() {
            // The peer is gone; the reader will notice too and clean up the connection.
            outbox.abandon();
            return;
        }
    }
    outbox.writing.borrow_mut().take();
    match outbox.state.get() {
        State::Open => *outbox.idle_writer.borrow_mut() = Some(writer),
        State::Closing => {
            let notify = outbox.transport.pending(true);
            if !notify.is_empty() {
                let _ = CancelableAsyncWriteRentExt::write_all(&mut writer, notify, cancel).await;
            }
            let _ = writer.shutdown().await;
            outbox.state.set(State::Closed);
        }
        State::Closed => {}
    }
}
