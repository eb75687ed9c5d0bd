//! The command line and configuration as a user meets them: exit codes, error lines, the
//! development app, TOML apps and the driver choice.

mod common;
#[path = "support/raw_client.rs"]
mod raw_client;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{free_port, http_get, Server};
use raw_client::Subscriber;

/// Runs the binary with `env` (and nothing from the caller's REVERB_*/RINGCAST_* variables)
/// until it exits or 10 s pass; returns (exit code, stderr).
fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    // The default data directory is relative: keep it out of the source tree.
    let cwd = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ringcast"));
    cmd.args(args).current_dir(cwd.path());
    for (k, _) in std::env::vars() {
        if k.starts_with("REVERB_") || k.starts_with("RINGCAST_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
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
    let port = free_port().to_string();
    let cwd = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ringcast"));
    cmd.current_dir(cwd.path());
    for (k, _) in std::env::vars() {
        if k.starts_with("REVERB_") || k.starts_with("RINGCAST_") {
            cmd.env_remove(k);
        }
    }
    // Only the port is set so the test does not collide with anything on 8080.
    let mut child = cmd
        .env("REVERB_SERVER_PORT", &port)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let port: u16 = port.parse().unwrap();
    let mut up = false;
    for _ in 0..250 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(up, "server did not come up");
    let sub = Subscriber::connect(port, ringcast::config::DEV_APP_KEY, &["hello"]);
    drop(sub);
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(ringcast::config::DEV_APP_KEY), "{err}");
    assert!(err.contains(ringcast::config::DEV_APP_SECRET), "{err}");
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
}

#[test]
fn sigterm_tells_clients_to_reconnect_and_exits_cleanly() {
    let mut server = Server::start(&[("RINGCAST_WORKERS", "2")]);
    let mut clients: Vec<Subscriber> = (0..6)
        .map(|_| Subscriber::connect(server.port, "test-key", &["c"]))
        .collect();
    let status = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for sub in &mut clients {
        let err = sub.client.recv_json();
        assert_eq!(err["event"], "pusher:error", "{err}");
        assert_eq!(err["data"]["code"], 4200);
        assert_eq!(sub.client.recv_close(), 4200);
    }
    drop(clients);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(status) = server.exited() {
            break status.code();
        }
        assert!(std::time::Instant::now() < deadline, "server did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(0), "{}", server.stderr());
    assert!(std::net::TcpStream::connect(("127.0.0.1", server.port)).is_err());
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
