//! A real `redis-server` for the integration tests: started on a free 127.0.0.1 port with no
//! persistence, ready once it answers PING, killed when dropped.
//!
//! Redis cannot be told to pick its own port, so a free port is found first and the start is
//! retried on another when a concurrent test takes it in between. It never skips: when
//! redis-server is missing it panics and says to run scripts/test, which installs it.
//! [`run`] drives the link under test in a monoio runtime in the test's own thread.
#![allow(dead_code)]

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use ringcast::config::RedisTarget;

const READY_TIMEOUT: Duration = Duration::from_secs(10);
const PORT_TRIES: usize = 5;

/// A running redis-server; `extra` arguments are kept for restarts.
pub struct RedisServer {
    /// The port it listens on (kept across restarts).
    pub port: u16,
    extra: Vec<String>,
    child: Option<Child>,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts one with extra arguments (e.g. `["--requirepass", "pw"]`).
    pub fn start(extra: &[&str]) -> RedisServer {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ringcast-redis-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the redis dir");
        let mut server = RedisServer {
            port: 0,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
            dir,
        };
        let mut last = String::new();
        for _ in 0..PORT_TRIES {
            server.port = free_port();
            match server.spawn() {
                Ok(()) => return server,
                Err(why) => last = why,
            }
        }
        panic!("redis-server did not start after {PORT_TRIES} ports: {last}");
    }

    /// A target for this server without credentials.
    pub fn target(&self) -> RedisTarget {
        RedisTarget {
            host: "127.0.0.1".into(),
            port: self.port,
            username: None,
            password: None,
            db: 0,
            tls: false,
            tls_ca: None,
        }
    }

    /// Kills it (as a crash would: no shutdown handshake with clients).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, retrying while the old socket lingers.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(why) if Instant::now() > deadline => panic!("redis-server restart: {why}"),
                Err(_) => sleep(Duration::from_millis(100)),
            }
        }
    }

    fn spawn(&mut self) -> Result<(), String> {
        let port = self.port.to_string();
        let mut child = Command::new("redis-server")
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-server ({e}): run scripts/test (it installs it)")
            });
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("exited with {status} (port {port} taken?)"));
            }
            if answers_ping(self.port) {
                self.child = Some(child);
                return Ok(());
            }
            sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(format!(
            "no PING answer on port {port} within {READY_TIMEOUT:?}"
        ))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `f` to completion in a monoio runtime with timers (io_uring where the kernel allows).
pub fn run<F: Future>(f: F) -> F::Output {
    monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .enable_timer()
        .build()
        .expect("monoio runtime")
        .block_on(f)
}

/// A port nothing listens on right now (it may be taken again before it is used).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// Sends one command to the Redis on `port` and answers its raw reply (RESP text): for tests
/// that wait for a node's write to have reached the shared state.
pub fn command(port: u16, args: &[&str]) -> String {
    let mut request = format!("*{}\r\n", args.len());
    for a in args {
        request.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to redis-server");
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    stream
        .write_all(request.as_bytes())
        .expect("send a redis command");
    let mut reply = [0u8; 512];
    let n = stream.read(&mut reply).expect("read a redis reply");
    String::from_utf8_lossy(&reply[..n]).into_owned()
}

/// True when a Redis answers PING on `port` (`-NOAUTH` counts: it is up, it wants a login).
fn answers_ping(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 64];
    stream.write_all(b"*1\r\n$4\r\nPING\r\n").is_ok()
        && matches!(stream.read(&mut reply), Ok(n) if reply[..n].starts_with(b"+PONG")
            || reply[..n].starts_with(b"-NOAUTH"))
}
