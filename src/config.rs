//! Configuration: embedded defaults, then an optional TOML file, then the environment.
//!
//! A Laravel `.env` works as is: `REVERB_APP_ID/KEY/SECRET`, `REVERB_SERVER_HOST/PORT` and the
//! `REVERB_APP_*` limits define (or override) one app. A TOML file (`--config`) adds several
//! `[[apps]]` and the server settings; `RINGCAST_*` variables override those. Everything is
//! validated here, once, so the rest of the server can trust it; an invalid setting is reported
//! as one line that names the key and says what to change.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ratelimit::Cidr;
use crate::ring::MAX_CORES;

mod app;
mod collections;
mod conn_auth;
mod notifications;
mod pusher_webhooks;
mod scaling;
mod webhooks;
pub use app::AppConfig;
use app::{env_app, validate_apps};
pub use collections::CollectionConfig;
pub use conn_auth::ConnectionAuth;
pub use notifications::settings as notification_settings;
pub use pusher_webhooks::{ChannelFilter, PusherWebhookConfig};
pub use scaling::{RedisTarget, ScalingConfig};
pub use webhooks::{WebhooksConfig, DATA_DIR_KEYS};

/// The development app used when nothing is configured; printed at startup.
pub const DEV_APP_ID: &str = "1000";
/// Key of the development app.
pub const DEV_APP_KEY: &str = "ringcast-dev-key";
/// Secret of the development app.
pub const DEV_APP_SECRET: &str = "ringcast-dev-secret";

/// The whole validated configuration of one server process.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Address the listeners bind (`REVERB_SERVER_HOST`, default `0.0.0.0`).
    pub host: IpAddr,
    /// Port the listeners bind (`REVERB_SERVER_PORT`, default 8080).
    pub port: u16,
    /// Number of shards, one per core (`RINGCAST_WORKERS`, default: available cores).
    pub workers: usize,
    /// Pin each shard to its own core.
    pub pinning: bool,
    /// Which I/O driver the shards use.
    pub driver: Driver,
    /// Serve the `/echo` WebSocket endpoint used by the conformance suite.
    pub echo: bool,
    /// New WebSocket connections allowed per client address (IPv6: per /64) in any 60 s;
    /// 0 turns the limit off.
    pub max_connections_per_ip_per_minute: usize,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<Cidr>,
    /// Seconds a client has to send its complete request head (and body).
    pub handshake_timeout: u32,
    /// PEM certificate chain and private key: when both are set, every connection is TLS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Largest REST request body accepted (`REVERB_MAX_REQUEST_SIZE`, default 10,000 bytes).
    pub max_request_size: usize,
    /// The apps clients and publishers may use; never empty.
    pub apps: Vec<AppConfig>,
    /// True when no app was configured and the development app was added.
    pub dev_app: bool,
    /// Redis scaling (`REVERB_SCALING_ENABLED`); `None` when off, and then Redis is never used.
    pub scaling: Option<ScalingConfig>,
    /// Where the control core keeps its store (`RINGCAST_DATA_DIR`, `server.data_dir`).
    pub data_dir: PathBuf,
    /// Webhook settings (`[webhooks]`).
    pub webhooks: WebhooksConfig,
}

/// The I/O driver for the shard runtimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Driver {
    /// io_uring when the kernel allows it, else epoll (logged at start).
    Auto,
    /// io_uring, or refuse to start.
    IoUring,
    /// epoll, even where io_uring works.
    Epoll,
}

/// A setting that could not be used, named by the key the user wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable or TOML key at fault.
    pub key: String,
    /// What is wrong and what to change.
    pub message: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid setting {}: {}", self.key, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The TOML file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    server: FileServer,
    #[serde(default)]
    apps: Vec<AppConfig>,
    #[serde(default)]
    scaling: scaling::FileScaling,
    #[serde(default)]
    webhooks: webhooks::FileWebhooks,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileServer {
    host: Option<String>,
    port: Option<u16>,
    workers: Option<usize>,
    pinning: Option<bool>,
    driver: Option<Driver>,
    echo: Option<bool>,
    max_connections_per_ip_per_minute: Option<usize>,
    trusted_proxies: Option<Vec<String>>,
    handshake_timeout: Option<u32>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    max_request_size: Option<usize>,
    data_dir: Option<PathBuf>,
}

/// Loads the configuration from an optional TOML file and the given environment lookup.
///
/// `env` is a parameter (not `std::env::var`) so tests can supply their own environment.
pub fn load(
    file: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    available_cores: usize,
) -> Result<Config, ConfigError> {
    let parsed = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::new("--config", format!("cannot read {}: {e}", path.display()))
            })?;
            parse_file(&text)?
        }
        None => FileConfig::default(),
    };
    let host_text = env("REVERB_SERVER_HOST")
        .map(|v| ("REVERB_SERVER_HOST", v))
        .or(parsed.server.host.map(|v| ("server.host", v)))
        .unwrap_or(("server.host", "0.0.0.0".to_owned()));
    let host = host_text.1.parse::<IpAddr>().map_err(|_| {
        ConfigError::new(
            host_text.0,
            format!(
                "'{}' is not an IP address (e.g. 0.0.0.0 or 127.0.0.1)",
                host_text.1
            ),
        )
    })?;
    let port = match env("REVERB_SERVER_PORT") {
        Some(v) => parse_num::<u16>("REVERB_SERVER_PORT", &v, "a port number 1-65535")?,
        None => parsed.server.port.unwrap_or(8080),
    };
    let workers = workers(
        env("RINGCAST_WORKERS"),
        parsed.server.workers,
        available_cores,
    )?;
    let pinning = match env("RINGCAST_PINNING") {
        Some(v) => parse_bool("RINGCAST_PINNING", &v)?,
        None => parsed.server.pinning.unwrap_or(true),
    };
    let driver = match env("RINGCAST_DRIVER").as_deref() {
        Some("auto") => Driver::Auto,
        Some("io_uring") | Some("iouring") => Driver::IoUring,
        Some("epoll") | Some("legacy") => Driver::Epoll,
        Some(other) => {
            return Err(ConfigError::new(
                "RINGCAST_DRIVER",
                format!("'{other}' is not a driver (auto, io_uring or epoll)"),
            ))
        }
        None => parsed.server.driver.unwrap_or(Driver::Auto),
    };
    let echo = match env("RINGCAST_ECHO") {
        Some(v) => parse_bool("RINGCAST_ECHO", &v)?,
        None => parsed.server.echo.unwrap_or(false),
    };
    let max_connections_per_ip_per_minute = match env("RINGCAST_MAX_CONNECTIONS_PER_IP_PER_MINUTE")
    {
        Some(v) => parse_num(
            "RINGCAST_MAX_CONNECTIONS_PER_IP_PER_MINUTE",
            &v,
            "a connection count (0 = off)",
        )?,
        None => parsed
            .server
            .max_connections_per_ip_per_minute
            .unwrap_or(100),
    };
    let trusted_proxies = cidr_setting(
        ("RINGCAST_TRUSTED_PROXIES", env("RINGCAST_TRUSTED_PROXIES")),
        ("server.trusted_proxies", parsed.server.trusted_proxies),
    )?;
    let handshake_timeout = match env("RINGCAST_HANDSHAKE_TIMEOUT") {
        Some(v) => parse_num("RINGCAST_HANDSHAKE_TIMEOUT", &v, "seconds")?,
        None => parsed.server.handshake_timeout.unwrap_or(10),
    };
    if handshake_timeout == 0 {
        return Err(ConfigError::new(
            "handshake_timeout",
            "must be at least 1 second",
        ));
    }
    let tls_cert = env("RINGCAST_TLS_CERT")
        .map(PathBuf::from)
        .or(parsed.server.tls_cert);
    let tls_key = env("RINGCAST_TLS_KEY")
        .map(PathBuf::from)
        .or(parsed.server.tls_key);
    let tls = match (tls_cert, tls_key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        (Some(_), None) => {
            return Err(ConfigError::new(
                "RINGCAST_TLS_KEY",
                "is required when RINGCAST_TLS_CERT is set",
            ))
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "RINGCAST_TLS_CERT",
                "is required when RINGCAST_TLS_KEY is set",
            ))
        }
    };
    let max_request_size = match env("REVERB_MAX_REQUEST_SIZE") {
        Some(v) => parse_num("REVERB_MAX_REQUEST_SIZE", &v, "a size in bytes")?,
        None => parsed.server.max_request_size.unwrap_or(10_000),
    };
    let mut apps = parsed.apps;
    if let Some(app) = env_app(env)? {
        apps.retain(|a| a.id != app.id);
        apps.insert(0, app);
    }
    let dev_app = apps.is_empty();
    if dev_app {
        apps.push(AppConfig::with_credentials(
            DEV_APP_ID,
            DEV_APP_KEY,
            DEV_APP_SECRET,
        ));
    }
    validate_apps(&apps)?;
    let scaling = scaling::load(parsed.scaling, env)?;
    let data_dir = webhooks::data_dir(env, parsed.server.data_dir)?;
    let webhooks = webhooks::webhooks(env, parsed.webhooks)?;
    pusher_webhooks::validate(&apps, &webhooks.allowed_subnets)?;
    Ok(Config {
        host,
        port,
        workers,
        pinning,
        driver,
        echo,
        max_connections_per_ip_per_minute,
        trusted_proxies,
        handshake_timeout,
        tls,
        max_request_size,
        apps,
        dev_app,
        scaling,
        data_dir,
        webhooks,
    })
}

/// A list of subnets from a comma-separated environment variable, else from the file; each
/// error names the key it came from.
fn cidr_setting(
    (env_key, env_value): (&str, Option<String>),
    (file_key, file_value): (&str, Option<Vec<String>>),
) -> Result<Vec<Cidr>, ConfigError> {
    let (key, items) = match env_value {
        Some(v) => (
            env_key,
            v.split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
        ),
        None => (file_key, file_value.unwrap_or_default()),
    };
    items
        .iter()
        .map(|p| Cidr::parse(p).map_err(|e| ConfigError::new(key, e)))
        .collect()
}

fn parse_file(text: &str) -> Result<FileConfig, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let message = e.message().to_owned();
        let key = match e.span() {
            Some(span) => {
                let line = text[..span.start].matches('\n').count() + 1;
                format!("config file line {line}")
            }
            None => "config file".to_owned(),
        };
        ConfigError::new(key, message)
    })
}

pub(crate) fn parse_num<T: std::str::FromStr>(
    key: &str,
    value: &str,
    what: &str,
) -> Result<T, ConfigError> {
    value
        .trim()
        .parse()
        .map_err(|_| ConfigError::new(key, format!("'{value}' is not {what}")))
}

/// The worker count: `RINGCAST_WORKERS`, else `server.workers`, else one per available core up
/// to the most a mesh can span (a larger machine still starts, with that many workers).
fn workers(
    from_env: Option<String>,
    from_file: Option<usize>,
    available_cores: usize,
) -> Result<usize, ConfigError> {
    let (key, workers) = match (from_env, from_file) {
        (Some(v), _) => (
            "RINGCAST_WORKERS",
            parse_num("RINGCAST_WORKERS", &v, "a number of cores, at least 1")?,
        ),
        (None, Some(n)) => ("server.workers", n),
        (None, None) => return Ok(available_cores.clamp(1, MAX_CORES)),
    };
    if workers == 0 || workers > MAX_CORES {
        return Err(ConfigError::new(
            key,
            format!(
                "{workers} workers: set 1 to {MAX_CORES} (cores are tracked in 64-bit sets, so \
                 more cannot be addressed)"
            ),
        ));
    }
    Ok(workers)
}

pub(crate) fn parse_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::new(
            key,
            format!("'{value}' is not a boolean (true/false)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// An environment lookup over `pairs` (shared with the submodules' tests).
    pub(super) fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn no_configuration_gives_the_dev_app() {
        let cfg = load(None, &env_of(&[]), 2).unwrap();
        assert!(cfg.dev_app);
        assert_eq!(cfg.apps[0].key, DEV_APP_KEY);
        assert_eq!(cfg.port, 8080);
        assert_eq!(cfg.workers, 2);
        assert_eq!(cfg.host.to_string(), "0.0.0.0");
    }

    #[test]
    fn reverb_env_defines_the_app_and_limits() {
        let env = env_of(&[
            ("REVERB_APP_ID", "42"),
            ("REVERB_APP_KEY", "k"),
            ("REVERB_APP_SECRET", "s"),
            ("REVERB_SERVER_PORT", "9000"),
            ("REVERB_APP_MAX_MESSAGE_SIZE", "20000"),
            ("REVERB_APP_ACTIVITY_TIMEOUT", "12"),
            ("REVERB_APP_MAX_CONNECTIONS", ""),
        ]);
        let cfg = load(None, &env, 1).unwrap();
        assert!(!cfg.dev_app);
        assert_eq!(cfg.port, 9000);
        let app = &cfg.apps[0];
        assert_eq!((app.id.as_str(), app.key.as_str()), ("42", "k"));
        assert_eq!(app.max_message_size, 20_000);
        assert_eq!(app.activity_timeout, 12);
        assert_eq!(app.max_connections, None);
    }

    #[test]
    fn bad_value_names_the_key() {
        let env = env_of(&[("REVERB_SERVER_PORT", "eighty")]);
        let err = load(None, &env, 1).unwrap_err();
        assert_eq!(err.key, "REVERB_SERVER_PORT");
        assert!(err.to_string().contains("'eighty' is not a port number"));
    }

    #[test]
    fn workers_up_to_64_are_accepted_and_more_refused_with_the_limit() {
        let with = |v: &str| load(None, &env_of(&[("RINGCAST_WORKERS", v)]), 2);
        assert_eq!(with("64").unwrap().workers, 64);
        for bad in ["65", "0"] {
            let err = with(bad).unwrap_err();
            assert_eq!(err.key, "RINGCAST_WORKERS");
            assert!(err.message.contains("set 1 to 64"), "{err}");
        }
        assert_eq!(
            workers(None, Some(65), 2).unwrap_err().key,
            "server.workers"
        );
        assert_eq!(load(None, &env_of(&[]), 128).unwrap().workers, 64);
    }

    #[test]
    fn toml_file_with_several_apps() {
        let text = r#"
            [server]
            port = 7000
            workers = 2
            [[apps]]
            id = "1"
            key = "a"
            secret = "x"
            [[apps]]
            id = "2"
            key = "b"
            secret = "y"
            max_message_size = 5000
        "#;
        let file = parse_file(text).unwrap();
        assert_eq!(file.apps.len(), 2);
        assert_eq!(file.apps[1].max_message_size, 5000);
        assert_eq!(file.apps[0].ping_interval, 60);
    }

    #[test]
    fn scaling_table_is_read_from_the_file() {
        let file = parse_file("[scaling]\nenabled = true\nurl = \"redis://r:6390/1\"\n").unwrap();
        let scaling = scaling::load(file.scaling, &env_of(&[])).unwrap().unwrap();
        assert_eq!(
            (scaling.redis.address(), scaling.redis.db),
            ("r:6390".to_owned(), 1)
        );
        assert_eq!(load(None, &env_of(&[]), 1).unwrap().scaling, None);
    }

    #[test]
    fn unknown_toml_key_is_reported_with_its_line() {
        let err = parse_file("[server]\nprot = 1\n").unwrap_err();
        assert!(err.key.contains("line 2"), "{err}");
        assert!(err.message.contains("prot"), "{err}");
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let mut a = AppConfig::with_credentials("1", "k", "s");
        let b = AppConfig::with_credentials("2", "k", "s");
        assert!(validate_apps(&[a.clone(), b]).is_err());
        a.max_message_size = 10;
        assert!(validate_apps(&[a]).is_err());
    }

    #[test]
    fn app_key_requires_secret() {
        let env = env_of(&[("REVERB_APP_KEY", "k"), ("REVERB_APP_ID", "1")]);
        assert_eq!(load(None, &env, 1).unwrap_err().key, "REVERB_APP_SECRET");
    }
}
