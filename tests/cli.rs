//! The command line and configuration as a user meets them: exit codes, error lines, the
//! development app, TOML apps and the driver choice.

mod common;
#[path = "support/raw_client.rs"]
mod raw_client;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{http_get, ports, Server};
use raw_client::Subscriber;

/// Starts the binary with `args` and `env` and nothing from the caller's REVERB_*/RINGCAST_*
/// variables, its stderr piped, in a fresh working directory (the default data directory is
/// relative: it stays out of the source tree) that lives as long as the returned guard.
fn spawn_hermetic(args: &[&str], env: &[(&str, &str)]) -> (Child, tempfile::TempDir) {
    let cwd = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ringcast"));
    cmd.args(args).current_dir(cwd.path());
    for (k, _) in std::env::vars() {
        if k.starts_with("REVERB_") || k.starts_with("RINGCAST_") {
            cmd.env_remove(k);
        }
    }
    let child = cmd
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (child, cwd)
}

/// Runs the binary (see [`spawn_hermetic`]) until it exits or 10 s pass; returns (exit code,
/// stderr).
fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let (mut child, _cwd) = spawn_hermetic(args, env);
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("ringcast did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn invalid_setting_is_one_line_naming_the_key_and_exit_2() {
    let (code, err) = run_to_exit(&[], &[("REVERB_SERVER_PORT", "eighty")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("REVERB_SERVER_PORT"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");

    let (code, err) = run_to_exit(&[], &[("RINGCAST_WORKERS", "0")]);
    assert_eq!(code, Some(2), "{err}");
    let (code, err) = run_to_exit(&[], &[("RINGCAST_LOG_FORMAT", "yaml")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("RINGCAST_LOG_FORMAT") && err.contains("json"),
        "{err}"
    );
    let (code, err) = run_to_exit(&["--bogus"], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--bogus"), "{err}");
}

#[test]
fn bad_config_file_names_the_line() {
    let dir = std::env::temp_dir().join(format!("ringcast-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(&file, "[server]\nport = 1\nworkres = 2\n").unwrap();
    let (code, err) = run_to_exit(&["--config", file.to_str().unwrap()], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("line 3") && err.contains("workres"), "{err}");
    let (code, err) = run_to_exit(&["--config", "/nonexistent/ringcast.toml"], &[]);
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn port_in_use_exits_1_with_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, err) = run_to_exit(
        &[],
        &[
            ("REVERB_SERVER_HOST", "127.0.0.1"),
            ("REVERB_SERVER_PORT", &port),
            ("RINGCAST_WORKERS", "1"),
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cannot listen"), "{err}");
}

#[test]
fn no_configuration_starts_the_documented_development_app() {
    for _ in 0..ports::ATTEMPTS {
        let port = ports::free_port().to_string();
        // Only the address is set so the test does not collide with anything on 8080.
        let env = [
            ("REVERB_SERVER_HOST", "127.0.0.1"),
            ("REVERB_SERVER_PORT", port.as_str()),
        ];
        let (mut child, _cwd) = spawn_hermetic(&[], &env);
        let port: u16 = port.parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() && !ports::listens_alone(child.id(), port) {
            assert!(Instant::now() < deadline, "server did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(ports::worth_retrying(&err), "the server exited: {err}");
            continue;
        }
        let sub = Subscriber::connect(port, ringcast::config::DEV_APP_KEY, &["hello"]);
        drop(sub);
        child.kill().unwrap();
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(ringcast::config::DEV_APP_KEY), "{err}");
        assert!(err.contains(ringcast::config::DEV_APP_SECRET), "{err}");
        return;
    }
    panic!("no free port in {} attempts", ports::ATTEMPTS);
}

#[test]
fn toml_file_serves_several_apps() {
    let server = Server::start_with_config(
        r#"
        [server]
        workers = 2
        [[apps]]
        id = "555"
        key = "second-key"
        secret = "second-secret"
        "#,
    );
    // The REVERB_* app and the file's app both accept connections, each on its own channels.
    let _a = Subscriber::connect(server.port, "test-key", &["x"]);
    let _b = Subscriber::connect(server.port, "second-key", &["x"]);
    let (_, health) = http_get(server.port, "/api/v1/websocket/health");
    assert!(health.contains(r#""connections":2"#), "{health}");
    assert!(health.contains(r#""workers":2"#), "{health}");
}

/// The kinds of anonymous inodes process `pid` holds open (`eventpoll`, `io_uring`, ...):
/// which I/O driver a server really runs on.
fn anon_inodes(pid: u32) -> Vec<String> {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap();
    fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let kind = target.to_str()?.strip_prefix("anon_inode:")?;
            Some(kind.trim_matches(['[', ']']).to_owned())
        })
        .collect()
}

#[test]
fn epoll_driver_serves_the_same_protocol() {
    let server = Server::start(&[("RINGCAST_DRIVER", "epoll"), ("RINGCAST_WORKERS", "2")]);
    let mut subs: Vec<Subscriber> = (0..6)
        .map(|_| Subscriber::connect(server.port, "test-key", &["e"]))
        .collect();
    let body = r#"{"name":"via-epoll","channel":"e","data":"1"}"#;
    let path = common::signed_path(&server, "POST", "/apps/424242/events", &[], body);
    let (status, resp) = common::http_post(server.port, &path, body);
    assert_eq!(status, 200, "{resp}");
    for s in &mut subs {
        assert_eq!(s.next_event()["event"], "via-epoll");
    }
    // What served them: one epoll instance per shard, and no io_uring anywhere.
    let kinds = anon_inodes(server.pid());
    let epolls = kinds.iter().filter(|k| *k == "eventpoll").count();
    assert!(epolls >= 2, "one epoll per shard expected: {kinds:?}");
    assert!(!kinds.iter().any(|k| k == "io_uring"), "{kinds:?}");
}

/// Waits (10 s at most) for the server's exit code.
fn wait_exit(server: &mut Server) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = server.exited() {
            return status.code();
        }
        assert!(Instant::now() < deadline, "server did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends SIGTERM and waits for the exit code.
fn terminate(server: &mut Server) -> Option<i32> {
    server.terminate();
    wait_exit(server)
}

#[test]
fn sigterm_tells_clients_to_reconnect_and_exits_cleanly() {
    let mut server = Server::start(&[("RINGCAST_WORKERS", "2")]);
    let mut clients: Vec<Subscriber> = (0..6)
        .map(|_| Subscriber::connect(server.port, "test-key", &["c"]))
        .collect();
    server.terminate();
    for sub in &mut clients {
        let err = sub.client.recv_json();
        assert_eq!(err["event"], "pusher:error", "{err}");
        assert_eq!(err["data"]["code"], 4200);
        assert_eq!(sub.client.recv_close(), 4200);
    }
    drop(clients);
    let code = wait_exit(&mut server);
    assert_eq!(code, Some(0), "{}", server.stderr());
    assert!(std::net::TcpStream::connect(("127.0.0.1", server.port)).is_err());
    // A normal stop is not a problem an operator should be told about (RUST_LOG=warn here).
    let log = server.stderr();
    assert!(!log.contains("WARN") && !log.contains("ERROR"), "{log}");
}

#[test]
fn logs_to_a_file_have_no_colour_and_json_format_is_one_object_per_line() {
    // stderr is a file here, as it is under journald or with a log file.
    let mut text = Server::start(&[("RUST_LOG", "info"), ("RINGCAST_WORKERS", "2")]);
    assert_eq!(terminate(&mut text), Some(0));
    let log = text.stderr();
    assert!(log.contains("ringcast starting"), "{log}");
    assert!(!log.contains('\x1b'), "escape codes in a log file: {log:?}");

    let mut json = Server::start(&[
        ("RUST_LOG", "info"),
        ("RINGCAST_WORKERS", "2"),
        ("RINGCAST_LOG_FORMAT", "json"),
    ]);
    assert_eq!(terminate(&mut json), Some(0));
    let log = json.stderr();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect();
    for line in &lines {
        assert!(
            line["level"].is_string() && line["timestamp"].is_string(),
            "{line}"
        );
        assert!(line["fields"]["message"].is_string(), "{line}");
    }
    let starting = lines
        .iter()
        .find(|l| l["fields"]["message"] == "ringcast starting")
        .unwrap_or_else(|| panic!("no start line: {log}"));
    assert_eq!(starting["fields"]["port"], json.port, "{starting}");
    assert!(
        lines.iter().any(|l| l["fields"]["message"] == "stopped"),
        "{log}"
    );
    assert!(!lines.iter().any(|l| l["level"] == "WARN"), "{log}");
}

#[test]
fn a_data_dir_that_cannot_be_created_stops_startup_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    // A directory cannot be made under a regular file, even by root.
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let data_dir = file.join("data");
    let env = [
        ("REVERB_SERVER_HOST", "127.0.0.1"),
        ("REVERB_SERVER_PORT", "0"),
        ("RINGCAST_DATA_DIR", data_dir.to_str().unwrap()),
    ];
    let (code, err) = run_to_exit(&[], &env);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("invalid setting RINGCAST_DATA_DIR"), "{err}");
    assert!(err.contains(data_dir.to_str().unwrap()), "{err}");
}
