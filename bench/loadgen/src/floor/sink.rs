//! A subscriber's socket as `ringcast-floor` writes it: straight from the worker's delivery
//! loop when the socket takes the bytes at once (the usual case), through a small queue and a
//! flush task only when it would block.
//!
//! This is the floor's whole delivery cost per subscriber: one non-blocking write of a frame
//! that was encoded once. Nothing is allocated per delivery unless the socket is full.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::ErrorKind;
use std::rc::Rc;

use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Notify;

use crate::hub::Frame;

/// The write side of one WebSocket connection.
pub struct Sink {
    write: OwnedWriteHalf,
    /// Frames the socket could not take yet, with how much of the first is written.
    pending: RefCell<VecDeque<Frame>>,
    written: Cell<usize>,
    /// Wakes the flush task when `pending` gains its first frame or the sink closes.
    wake: Notify,
    closed: Cell<bool>,
}

impl Sink {
    /// Wraps the write half and starts its flush task on this worker.
    pub fn start(write: OwnedWriteHalf) -> Rc<Sink> {
        let sink = Rc::new(Sink {
            write,
            pending: RefCell::new(VecDeque::new()),
            written: Cell::new(0),
            wake: Notify::new(),
            closed: Cell::new(false),
        });
        tokio::task::spawn_local(flush(sink.clone()));
        sink
    }

    /// Writes `frame` now if the socket takes it, else queues it behind what is waiting.
    pub fn send(&self, frame: Frame) {
        if self.closed.get() {
            return;
        }
        let mut pending = self.pending.borrow_mut();
        if !pending.is_empty() {
            pending.push_back(frame);
            return;
        }
        let done = match self.write.try_write(&frame) {
            Ok(n) if n == frame.len() => return,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
            Err(_) => {
                self.closed.set(true);
                return;
            }
        };
        self.written.set(done);
        pending.push_back(frame);
        self.wake.notify_one();
    }

    /// No more frames after those already queued; the flush task ends once they are out.
    pub fn close(&self) {
        self.closed.set(true);
        self.wake.notify_one();
    }
}

/// Writes what `send` had to queue, whenever the socket is writable again.
async fn flush(sink: Rc<Sink>) {
    loop {
        let next = sink.pending.borrow().front().cloned();
        let Some(frame) = next else {
            if sink.closed.get() {
                return;
            }
            sink.wake.notified().await;
            continue;
        };
        if sink.write.writable().await.is_err() {
            return;
        }
        match sink.write.try_write(&frame[sink.written.get()..]) {
            Ok(n) if sink.written.get() + n == frame.len() => {
                sink.written.set(0);
                sink.pending.borrow_mut().pop_front();
            }
            Ok(n) => sink.written.set(sink.written.get() + n),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => {
                sink.closed.set(true);
                sink.pending.borrow_mut().clear();
                return;
            }
        }
    }
}
