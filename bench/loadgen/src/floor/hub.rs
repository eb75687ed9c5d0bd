//! The worker threads of `ringcast-floor` and the fan-out between them.
//!
//! Each worker is one thread with a single-threaded tokio runtime; it owns the sockets handed
//! to it and, per channel, the sinks of its subscribers. A publish reaches every worker as one
//! command carrying the already-encoded frame, and each worker writes that same frame (shared,
//! never copied) to its subscribers' sockets. No lock is taken on the delivery path.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::rc::Rc;
use std::sync::Arc;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::sink::Sink;

/// A frame encoded once, shared by every write of it.
pub type Frame = Arc<[u8]>;

/// What a worker is asked to do.
enum Cmd {
    /// Serve this freshly accepted socket.
    Conn(std::net::TcpStream),
    /// Queue `frame` to every local subscriber of `channel`.
    Publish { channel: Arc<str>, frame: Frame },
}

/// The handles of all workers; cheap to clone.
#[derive(Clone)]
pub struct Workers(Arc<Vec<UnboundedSender<Cmd>>>);

impl Workers {
    /// Gives the `n`th accepted socket to a worker, round-robin.
    pub fn hand_over(&self, n: usize, stream: std::net::TcpStream) {
        let _ = self.0[n % self.0.len()].send(Cmd::Conn(stream));
    }

    /// Every worker writes `frame` to its subscribers of `channel`.
    pub fn publish(&self, channel: &str, frame: Vec<u8>) {
        let channel: Arc<str> = channel.into();
        let frame: Frame = frame.into();
        for worker in self.0.iter() {
            let _ = worker.send(Cmd::Publish {
                channel: channel.clone(),
                frame: frame.clone(),
            });
        }
    }
}

/// One worker's subscriptions: channel name to its subscribers' sinks by connection id.
#[derive(Default)]
pub struct Local {
    /// This worker's index (the first part of its socket ids).
    pub worker: usize,
    next_id: Cell<u64>,
    channels: RefCell<HashMap<String, HashMap<u64, Rc<Sink>>>>,
}

impl Local {
    /// A fresh connection id on this worker.
    pub fn next_id(&self) -> u64 {
        let id = self.next_id.get() + 1;
        self.next_id.set(id);
        id
    }

    pub fn subscribe(&self, channel: &str, id: u64, sink: &Rc<Sink>) {
        self.channels
            .borrow_mut()
            .entry(channel.to_owned())
            .or_default()
            .insert(id, sink.clone());
    }

    /// Removes connection `id` from `channel`, and the channel once nobody is left on it.
    pub fn unsubscribe(&self, channel: &str, id: u64) {
        let mut channels = self.channels.borrow_mut();
        if let Some(subs) = channels.get_mut(channel) {
            subs.remove(&id);
            if subs.is_empty() {
                channels.remove(channel);
            }
        }
    }

    fn deliver(&self, channel: &str, frame: &Frame) {
        if let Some(subs) = self.channels.borrow().get(channel) {
            for sink in subs.values() {
                sink.send(frame.clone());
            }
        }
    }
}

/// Starts `threads` workers.
pub fn start(threads: usize) -> io::Result<Workers> {
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..threads).map(|_| unbounded_channel()).unzip();
    let workers = Workers(Arc::new(senders));
    for (worker, commands) in receivers.into_iter().enumerate() {
        let all = workers.clone();
        std::thread::Builder::new()
            .name(format!("floor-{worker}"))
            .spawn(move || run(worker, commands, all))?;
    }
    Ok(workers)
}

fn run(worker: usize, mut commands: UnboundedReceiver<Cmd>, all: Workers) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ringcast-floor: worker {worker}: runtime: {e}");
            std::process::exit(1);
        }
    };
    let local = Rc::new(Local {
        worker,
        ..Local::default()
    });
    let tasks = tokio::task::LocalSet::new();
    tasks.block_on(&runtime, async move {
        while let Some(cmd) = commands.recv().await {
            match cmd {
                Cmd::Conn(stream) => {
                    tokio::task::spawn_local(crate::http::serve(
                        stream,
                        local.clone(),
                        all.clone(),
                    ));
                }
                Cmd::Publish { channel, frame } => local.deliver(&channel, &frame),
            }
        }
    });
}
