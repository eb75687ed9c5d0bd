//! The `ringcast` command: `ringcast [serve] [--config FILE]`.
//!
//! Exit codes: 0 after a clean stop, 1 when the server cannot start (say, the port is taken),
//! 2 for a bad command line or an invalid setting (the message names the key).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use ringcast::config::{self, Config};

const USAGE: &str = "usage: ringcast [serve] [--config FILE]

Runs the ringcast Pusher-protocol server. Settings come from FILE (TOML), then from the
environment: REVERB_APP_ID/KEY/SECRET, REVERB_SERVER_HOST/PORT, REVERB_APP_* limits,
RINGCAST_WORKERS. With nothing configured it starts a development app and prints it.";

fn main() -> ExitCode {
    let config_path = match parse_args(std::env::args().skip(1)) {
        Ok(Some(path)) => path,
        Ok(None) => return ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("ringcast: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    init_logging();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let env = |key: &str| std::env::var(key).ok();
    let config = match config::load(config_path.as_deref(), &env, cores) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ringcast: {e}");
            return ExitCode::from(2);
        }
    };
    announce(&config);
    let tls = match &config.tls {
        Some((cert, key)) => match ringcast::tls::load(cert, key) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("ringcast: invalid setting RINGCAST_TLS_CERT/RINGCAST_TLS_KEY: {e}");
                return ExitCode::from(2);
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
        Err(e) => {
            eprintln!("ringcast: {e}");
            ExitCode::from(e.exit_code())
        }
    }
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

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn announce(config: &Config) {
    tracing::info!(
        host = %config.host,
        port = config.port,
        workers = config.workers,
        apps = config.apps.len(),
        "ringcast starting"
    );
    if config.dev_app {
        let app = &config.apps[0];
        eprintln!(
            "ringcast: no app configured, using the development app:\n  \
             REVERB_APP_ID={}\n  REVERB_APP_KEY={}\n  REVERB_APP_SECRET={}\n\
             Set REVERB_APP_ID/KEY/SECRET (or --config) for real use.",
            app.id, app.key, app.secret
        );
    }
}
