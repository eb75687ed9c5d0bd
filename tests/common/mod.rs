//! Shared harness for the integration tests: start the real `ringcast` binary on a free port,
//! talk plain HTTP/1.1 to it, and run the real clients in `tests/clients/` against it.
//!
//! It never skips: when the Node modules or the Python venv are missing it panics and says to
//! run `scripts/test`, which installs them. Everything is bounded in time (server start 10 s,
//! a client 30 s wall clock, HTTP 10 s), so a broken server fails a test instead of hanging it.
//! The server's stderr goes to a temporary file that is printed when a test panics.
//! Each server runs in its own temporary directory, which also holds its data directory unless
//! the test picks one, so parallel servers never share a store.
#![allow(dead_code)]

mod http;
pub mod ports;
mod signal;
mod signing;
// Not every test binary uses both.
use http::try_http;
#[allow(unused_imports)]
pub use http::{http_get, http_post, http_request};
#[allow(unused_imports)]
pub use ports::free_port;
#[allow(unused_imports)]
pub use signing::{signed_call, signed_path, webhooks_call, webhooks_server};

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub const APP_ID: &str = "424242";
pub const APP_KEY: &str = "test-key";
pub const APP_SECRET: &str = "test-secret";

const START_TIMEOUT: Duration = Duration::from_secs(10);
const CLIENT_WALL_CLOCK: Duration = Duration::from_secs(30);
const INSTALL_HINT: &str = "run scripts/test (it installs the clients)";

/// A private temporary directory, removed on drop (no `tempfile` dependency needed).
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ringcast-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The ringcast binary running on 127.0.0.1:`port`, killed when dropped.
pub struct Server {
    pub port: u16,
    pub app_id: String,
    pub app_key: String,
    pub app_secret: String,
    /// `RINGCAST_WORKERS` as given to the server, if it was (the clients place connections by it).
    workers: Option<String>,
    child: Child,
    stderr_path: PathBuf,
    /// The server's working directory, and its data directory unless the test chose one;
    /// shared with the server that [`Server::kill9_and_restart`] starts in its place.
    dir: Arc<TempDir>,
    /// How it was started, for a restart.
    launch: Launch,
}

/// What a server was started with.
#[derive(Clone)]
struct Launch {
    args: Vec<String>,
    env: Vec<(String, String)>,
    config: Option<String>,
}

impl Server {
    /// Start with the test app (424242 / test-key / test-secret) from `REVERB_*` env, plus
    /// `extra_env` (which may override those; the clients then follow the override).
    pub fn start(extra_env: &[(&str, &str)]) -> Server {
        Server::start_with(&[], extra_env, None)
    }

    /// Start with `--config <file>` holding `toml` (the `REVERB_*` env above still applies).
    pub fn start_with_config(toml: &str) -> Server {
        Server::start_with(&[], &[], Some(toml))
    }

    /// The general form: extra CLI args, extra env, optional config file contents. The port
    /// is a probed free one, tried again on another when it turns out taken (see `ports`).
    ///
    /// Without a config file the server runs [`suite_workers`] workers unless `extra_env` sets
    /// `RINGCAST_WORKERS`; with one, the file (or the machine's core count) decides.
    ///
    /// Each server gets its own data directory (`RINGCAST_DATA_DIR` in its temporary
    /// directory) unless the test sets one, in the env or the config file, so parallel servers
    /// never claim each other's webhook deliveries.
    pub fn start_with(args: &[&str], extra_env: &[(&str, &str)], config: Option<&str>) -> Server {
        let launch = Launch {
            args: args.iter().map(|a| a.to_string()).collect(),
            env: extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            config: config.map(str::to_owned),
        };
        Server::launch(launch, Arc::new(TempDir::new("server")))
    }

    /// Kills the server with SIGKILL (no shutdown at all) and starts it again as it was
    /// started, on a new port, in the same directory: same data directory, same stores.
    pub fn kill9_and_restart(mut self) -> Server {
        let _ = self.child.kill();
        let _ = self.child.wait();
        Server::launch(self.launch.clone(), self.dir.clone())
    }

    fn launch(launch: Launch, dir: Arc<TempDir>) -> Server {
        let mut last = String::new();
        for _ in 0..ports::ATTEMPTS {
            match Server::try_start(ports::free_port(), &launch, &dir) {
                Ok(server) => return server,
                Err(stderr) => last = stderr,
            }
            // A moment for whatever was short (a port, locked memory) to come free.
            thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "no free port after {} attempts; last:\n{last}",
            ports::ATTEMPTS
        );
    }

    /// One start on `port`: `Err(stderr)` when it is worth trying again on another port
    /// ([`ports::worth_retrying`]), a panic for anything else.
    fn try_start(port: u16, launch: &Launch, dir: &Arc<TempDir>) -> Result<Server, String> {
        let config = launch.config.as_deref();
        let port_s = port.to_string();
        let suite = suite_workers();
        let default_workers = [("RINGCAST_WORKERS", suite.as_str())];
        let data = dir.0.join("data").display().to_string();
        let own_data = [("RINGCAST_DATA_DIR", data.as_str())];
        let chosen = config.is_some_and(|c| c.contains("data_dir"));
        let extra_env = launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let mut env: BTreeMap<String, String> = [
            ("REVERB_SERVER_HOST", "127.0.0.1"),
            ("REVERB_SERVER_PORT", port_s.as_str()),
            ("REVERB_APP_ID", APP_ID),
            ("REVERB_APP_KEY", APP_KEY),
            ("REVERB_APP_SECRET", APP_SECRET),
            ("RUST_LOG", "warn"),
        ]
        .iter()
        .chain(default_workers.iter().filter(|_| config.is_none()))
        .chain(own_data.iter().filter(|_| !chosen))
        .copied()
        .chain(extra_env)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();

        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ringcast"));
        cmd.args(&launch.args).current_dir(&dir.0);
        if let Some(toml) = config {
            let file = dir.0.join("ringcast.toml");
            fs::write(&file, toml).expect("write config file");
            cmd.arg("--config").arg(file);
        }
        // Hermetic: nothing from the developer's shell leaks into the server under test.
        for (k, _) in std::env::vars() {
            if k.starts_with("REVERB_") || k.starts_with("RINGCAST_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(&env);

        // One log per start: a restarted server's does not mix with its predecessor's.
        let stderr_path = dir.0.join(format!("stderr-{port}.log"));
        let stderr = fs::File::create(&stderr_path).expect("create stderr log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", env!("CARGO_BIN_EXE_ringcast")));

        let tls = env.contains_key("RINGCAST_TLS_CERT");
        let workers = env.remove("RINGCAST_WORKERS");
        let mut take = |k: &str| env.remove(k).expect("set above");
        let mut server = Server {
            port,
            workers,
            app_id: take("REVERB_APP_ID"),
            app_key: take("REVERB_APP_KEY"),
            app_secret: take("REVERB_APP_SECRET"),
            child,
            stderr_path,
            dir: dir.clone(),
            launch: launch.clone(),
        };
        server.wait_up(tls)?;
        Ok(server)
    }

    /// Waits for `GET /up` (for a TLS server, which plain HTTP cannot ask, for the port) from
    /// this server's own listeners. `Err(stderr)` if it exited for a reason worth a retry.
    fn wait_up(&mut self, tls: bool) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                let stderr = self.stderr();
                if ports::worth_retrying(&stderr) {
                    return Err(stderr);
                }
                panic!("ringcast exited during startup ({status}); stderr:\n{stderr}");
            }
            // Another process answering on the port proves nothing about this server.
            let last = if !ports::listens_alone(self.child.id(), self.port) {
                format!("port {} is not (only) this server's yet", self.port)
            } else if tls {
                match std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                    Ok(_) => return Ok(()),
                    Err(e) => format!("connect: {e}"),
                }
            } else {
                match try_http(self.port, "GET", "/up", &[], b"") {
                    Ok((200, _)) => return Ok(()),
                    Ok((code, body)) => format!("GET /up answered {code}: {body}"),
                    Err(e) => format!("GET /up: {e}"),
                }
            };
            if Instant::now() >= deadline {
                panic!(
                    "ringcast not up on port {} within {START_TIMEOUT:?} ({last}); stderr:\n{}",
                    self.port,
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` if the server process has exited (it never should on its own).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Environment for a client script: where the server is and which app to use.
    fn client_env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("RINGCAST_HOST".into(), "127.0.0.1".into()),
            ("RINGCAST_PORT".into(), self.port.to_string()),
            ("APP_ID".into(), self.app_id.clone()),
            ("APP_KEY".into(), self.app_key.clone()),
            ("APP_SECRET".into(), self.app_secret.clone()),
        ];
        env.extend(self.workers.clone().map(|w| ("RINGCAST_WORKERS".into(), w)));
        env
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!(
                "----- ringcast stderr (port {}) -----\n{}-----",
                self.port,
                self.stderr()
            );
        }
    }
}

/// Workers of a server started without a config file: `RINGCAST_WORKERS` from the test run's
/// environment (scripts/test runs the integration tests again with 4), else 2.
fn suite_workers() -> String {
    std::env::var("RINGCAST_WORKERS").unwrap_or_else(|_| "2".into())
}

// ---------------------------------------------------------------------------------------------
// Real clients (tests/clients)

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("clients")
}

/// What a client script did. `status` is `None` when it was killed at the wall-clock limit.
#[derive(Debug)]
pub struct ClientOutput {
    pub script: String,
    pub status: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
}

impl ClientOutput {
    pub fn success(&self) -> bool {
        self.status == Some(0) && self.ok_line().is_some()
    }

    /// The last stdout line starting with `ok`.
    pub fn ok_line(&self) -> Option<&str> {
        self.stdout.lines().rev().find(|l| l.starts_with("ok"))
    }

    /// Panic with the whole output unless the script exited 0 and printed an `ok` line.
    pub fn assert_ok(&self) -> &Self {
        if !self.success() {
            panic!("client {} failed\n{self}", self.script);
        }
        self
    }

    /// Panic with the whole output unless the script failed (non-zero exit, not a timeout).
    pub fn assert_failed(&self) -> &Self {
        if self.timed_out || self.status == Some(0) {
            panic!("client {} was expected to fail\n{self}", self.script);
        }
        self
    }

    /// The text after `ok ` on the ok line, parsed as JSON (e.g. pusherjs_wait's data array).
    pub fn ok_json(&self) -> serde_json::Value {
        let line = self.assert_ok().ok_line().expect("checked");
        let payload = line.strip_prefix("ok").unwrap_or(line).trim();
        serde_json::from_str(payload)
            .unwrap_or_else(|e| panic!("ok payload of {} is not JSON ({e})\n{self}", self.script))
    }
}

impl std::fmt::Display for ClientOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = match (self.timed_out, self.status) {
            (true, _) => format!("killed after {CLIENT_WALL_CLOCK:?}"),
            (false, Some(c)) => format!("exit code {c}"),
            (false, None) => "killed by a signal".to_string(),
        };
        write!(
            f,
            "status: {status}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.stdout, self.stderr
        )
    }
}

/// A client script still running; read its stdout line by line, then `finish()`.
pub struct RunningClient {
    script: String,
    child: Child,
    deadline: Instant,
    lines: Receiver<String>,
    stdout: Vec<String>,
    stdout_thread: Option<JoinHandle<()>>,
    stderr_thread: Option<JoinHandle<String>>,
}

impl RunningClient {
    /// Wait until a stdout line starts with `prefix` and return it. Panics (with everything the
    /// client printed) on timeout or if the client exits first.
    pub fn wait_for_line(&mut self, prefix: &str, timeout: Duration) -> String {
        let deadline = (Instant::now() + timeout).min(self.deadline);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stdout.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let out = self.kill_and_collect(true);
                    panic!(
                        "client {} printed no line starting {prefix:?} within {timeout:?}\n{out}",
                        out.script
                    );
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let out = self.kill_and_collect(false);
                    panic!(
                        "client {} ended before printing a line starting {prefix:?}\n{out}",
                        out.script
                    );
                }
            }
        }
    }

    /// Wait for the client to exit (killing it at the 30 s wall-clock limit) and collect output.
    pub fn finish(mut self) -> ClientOutput {
        let mut timed_out = false;
        loop {
            if self.child.try_wait().expect("try_wait").is_some() {
                break;
            }
            if Instant::now() >= self.deadline {
                timed_out = true;
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        self.kill_and_collect(timed_out)
    }

    fn kill_and_collect(&mut self, timed_out: bool) -> ClientOutput {
        let _ = self.child.kill();
        let status = self.child.wait().expect("wait for client");
        if let Some(t) = self.stdout_thread.take() {
            let _ = t.join();
        }
        self.stdout.extend(self.lines.try_iter());
        let stderr = self
            .stderr_thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        let mut stdout = self.stdout.join("\n");
        if !stdout.is_empty() {
            stdout.push('\n');
        }
        ClientOutput {
            script: self.script.clone(),
            status: if timed_out { None } else { status.code() },
            timed_out,
            stdout,
            stderr,
        }
    }
}

impl Drop for RunningClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `tests/clients/<script>` (node for `.js`, the venv's python for `.py`) against `server`.
pub fn spawn_client(script: &str, args: &[&str], server: &Server) -> RunningClient {
    spawn_client_env(script, args, server, &[])
}

/// As [`spawn_client`], with extra environment (e.g. `CLIENT_TIMEOUT_MS`, or other app keys).
pub fn spawn_client_env(
    script: &str,
    args: &[&str],
    server: &Server,
    extra_env: &[(&str, &str)],
) -> RunningClient {
    let dir = clients_dir();
    let mut cmd = if script.ends_with(".py") {
        let python = dir.join(".venv").join("bin").join("python");
        assert!(
            python.exists(),
            "{} is missing: {INSTALL_HINT}",
            python.display()
        );
        Command::new(python)
    } else {
        let modules = dir.join("node_modules");
        assert!(
            modules.is_dir(),
            "{} is missing: {INSTALL_HINT}",
            modules.display()
        );
        Command::new("node")
    };
    cmd.arg(dir.join(script))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .envs(server.client_env())
        .envs(extra_env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run client {script}: {e} ({INSTALL_HINT})"));

    let (tx, lines) = mpsc::channel();
    let out = child.stdout.take().expect("piped stdout");
    let stdout_thread = thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut err = child.stderr.take().expect("piped stderr");
    let stderr_thread = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    RunningClient {
        script: script.to_string(),
        child,
        deadline: Instant::now() + CLIENT_WALL_CLOCK,
        lines,
        stdout: Vec::new(),
        stdout_thread: Some(stdout_thread),
        stderr_thread: Some(stderr_thread),
    }
}

/// Run a client script to completion (30 s wall-clock limit).
pub fn run_client(script: &str, args: &[&str], server: &Server) -> ClientOutput {
    spawn_client(script, args, server).finish()
}

/// The `hook <JSON>` records that `pusher_webhook_receiver.py` printed, one per request.
pub fn hook_records(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("hook "))
        .map(|r| serde_json::from_str(r).expect("a JSON hook record"))
        .collect()
}
