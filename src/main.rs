//! The `ringcast` command: `ringcast [serve] [--config FILE]`.
//!
//! Exit codes: 0 after a clean stop, 1 when the server cannot start (say, the port is taken),
//! 2 for a bad command line or an invalid setting (the message names the key).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use ringcast::config::{self, Config};
use ringcast::logging::{self, LogFormat};

const USAGE: &str = "usage: ringcast [serve] [--config FILE]

Runs the ringcast Pusher-protocol server. Settings come from FILE (TOML), then from the
environment: REVERB_APP_ID/KEY/SECRET, REVERB_SERVER_HOST/PORT, REVERB_APP_* limits,
RINGCAST_WORKERS. With nothing configured it starts a development app and prints it.
Logs go to stderr: RUST_LOG sets the level (default info), RINGCAST_LOG_FORMAT=json writes
one JSON object per line.";

fn main() -> ExitCode {
    let config_path = match parse_args(std::env::args().skip(1)) {
        Ok(Some(path)) => path,
        Ok(None) => return ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("ringcast: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let log_format = match LogFormat::parse(std::env::var(logging::FORMAT_VAR).ok().as_deref()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("ringcast: {e}");
            return ExitCode::from(2);
        }
    };
    logging::init(log_format);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let env = |key: &str| std::env::var(key).ok();
    let config = match config::load(config_path.as_deref(), &env, cores) {
        Ok(c) => c,
        Err(e) => return fatal(log_format, &e, 2),
    };
    announce(&config, log_format);
    let tls = match &config.tls {
        Some((cert, key)) => match ringcast::tls::load(cert, key) {
            Ok(t) => Some(t),
            Err(e) => {
                let e = format!("invalid setting RINGCAST_TLS_CERT/RINGCAST_TLS_KEY: {e}");
                return fatal(log_format, &e, 2);
            }
        },
        None => None,
    };
    let tls_paths = config.tls.clone();
    match ringcast::start(Arc::new(config), tls) {
        Ok(server) => {
            wait_for_signal(|| {
                // SIGHUP: reload the certificate; a bad file keeps the old one.
                if let Some((cert, key)) = &tls_paths {
                    match ringcast::tls::load(cert, key) {
                        Ok(t) => {
                            server.set_tls(t);
                            tracing::info!(cert = %cert.display(), "TLS certificate reloaded");
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "TLS reload failed; keeping the previous certificate")
                        }
                    }
                }
            });
            tracing::info!("shutting down: clients are told to reconnect (4200)");
            server.shutdown();
            server.join();
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => fatal(log_format, &e, e.exit_code()),
    }
}

/// Reports why the server cannot run, in the log format the operator chose, and exits `code`.
fn fatal(format: LogFormat, error: &dyn std::fmt::Display, code: u8) -> ExitCode {
    match format {
        LogFormat::Text => eprintln!("ringcast: {error}"),
        LogFormat::Json => tracing::error!(error = %error, "ringcast cannot start"),
    }
    ExitCode::from(code)
}

/// `Ok(Some(path))` to serve (path may be `None`), `Ok(None)` after printing help or version.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Option<PathBuf>>, String> {
    let mut config = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "serve" => {}
            "--config" | "-c" => {
                let path = args.next().ok_or("--config needs a file path")?;
                config = Some(PathBuf::from(path));
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(None);
            }
            "--version" | "-V" => {
                println!("ringcast {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    Ok(Some(config))
}

/// Blocks until SIGTERM or SIGINT, calling `on_hangup` for each SIGHUP meanwhile.
fn wait_for_signal(on_hangup: impl Fn()) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    match signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP]) {
        Ok(mut signals) => {
            for signal in signals.forever() {
                if signal == SIGHUP {
                    on_hangup();
                } else {
                    return;
                }
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for signals; the server runs until killed");
            loop {
                std::thread::park();
            }
        }
    }
}

fn announce(config: &Config, format: LogFormat) {
    tracing::info!(
        host = %config.host,
        port = config.port,
        workers = config.workers,
        apps = config.apps.len(),
        "ringcast starting"
    );
    if config.dev_app {
        let app = &config.apps[0];
        if format == LogFormat::Json {
            // A log shipper expects one JSON object per line, the credentials included.
            tracing::warn!(
                app_id = %app.id,
                app_key = %app.key,
                app_secret = %app.secret,
                "no app configured, using the development app; set REVERB_APP_ID/KEY/SECRET (or --config) for real use"
            );
            return;
        }
        eprintln!(
            "ringcast: no app configured, using the development app:\n  \
             REVERB_APP_ID={}\n  REVERB_APP_KEY={}\n  REVERB_APP_SECRET={}\n\
             Set REVERB_APP_ID/KEY/SECRET (or --config) for real use.",
            app.id, app.key, app.secret
        );
    }
}
