//! The control core's settings: where the store lives (`server.data_dir`), which private
//! subnets webhook targets may reach (`[webhooks] allowed_subnets`), how deliveries are sent
//! (`[webhooks]` timeout, connection bounds, breaker pause, CA file) and how long delivery
//! history is kept (`[webhooks] retention_days`).
//!
//! Owns their TOML shape, their environment overrides (`RINGCAST_DATA_DIR`,
//! `RINGCAST_WEBHOOKS_ALLOWED_SUBNETS`, `RINGCAST_WEBHOOKS_RETENTION_DAYS`) and their defaults. It never creates the directory nor
//! opens the store: the control core does that at start and reports a failure naming
//! [`DATA_DIR_KEYS`].

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{cidr_setting, parse_num, ConfigError};
use crate::ratelimit::Cidr;
use crate::store::sqlite::{DATA_DIR_ENV, DEFAULT_DATA_DIR};

/// How a startup error names the data directory setting.
pub const DATA_DIR_KEYS: &str = "RINGCAST_DATA_DIR (server.data_dir)";

/// The environment variable that lists the allowed subnets, comma-separated.
const SUBNETS_ENV: &str = "RINGCAST_WEBHOOKS_ALLOWED_SUBNETS";
/// The environment variable that sets `webhooks.retention_days`.
const RETENTION_ENV: &str = "RINGCAST_WEBHOOKS_RETENTION_DAYS";
/// Days finished deliveries and their attempts are kept unless configured.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;

/// The `[webhooks]` table of the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileWebhooks {
    allowed_subnets: Option<Vec<String>>,
    timeout_ms: Option<u64>,
    max_connections: Option<usize>,
    max_per_endpoint: Option<usize>,
    max_idle_per_endpoint: Option<usize>,
    breaker_pause_ms: Option<u64>,
    ca_file: Option<PathBuf>,
    retention_days: Option<u32>,
}

/// Validated webhook settings.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhooksConfig {
    /// Private or loopback subnets that webhook targets may still use (the SSRF guard refuses
    /// every other non-public address).
    pub allowed_subnets: Vec<Cidr>,
    /// How long a receiver has to answer one attempt, connect and TLS included.
    pub timeout: Duration,
    /// Webhook requests in flight at once, over all receivers.
    pub max_connections: usize,
    /// Requests in flight at once to one receiver (scheme, host and port).
    pub max_per_endpoint: usize,
    /// Idle kept-alive connections kept per receiver.
    pub max_idle_per_endpoint: usize,
    /// How long an open circuit breaker pauses its endpoint.
    pub breaker_pause: Duration,
    /// PEM file of the CAs trusted for https receivers, instead of the webpki roots.
    pub ca_file: Option<PathBuf>,
    /// Days a finished delivery and its attempts stay in the log before the periodic cleanup
    /// removes them (at least 1).
    pub retention_days: u32,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            allowed_subnets: Vec::new(),
            timeout: Duration::from_secs(30),
            max_connections: 512,
            max_per_endpoint: 16,
            max_idle_per_endpoint: 16,
            breaker_pause: Duration::from_secs(3600),
            ca_file: None,
            retention_days: DEFAULT_RETENTION_DAYS,
        }
    }
}

/// A count that must be at least 1.
fn positive(key: &str, value: Option<usize>, default: usize) -> Result<usize, ConfigError> {
    match value {
        None => Ok(default),
        Some(0) => Err(ConfigError::new(key, "must be at least 1")),
        Some(n) => Ok(n),
    }
}

/// Retention in days: `RINGCAST_WEBHOOKS_RETENTION_DAYS`, else the file, else 90; at least 1.
fn retention_days(
    env: &dyn Fn(&str) -> Option<String>,
    from_file: Option<u32>,
) -> Result<u32, ConfigError> {
    let days = match env(RETENTION_ENV) {
        Some(v) => parse_num(RETENTION_ENV, &v, "a number of days (at least 1)")?,
        None => from_file.unwrap_or(DEFAULT_RETENTION_DAYS),
    };
    if days == 0 {
        return Err(ConfigError::new(
            "webhooks.retention_days",
            "must be at least 1 day; history is removed only after it",
        ));
    }
    Ok(days)
}

/// The data directory: `RINGCAST_DATA_DIR`, else `server.data_dir`, else `./ringcast-data`.
pub(super) fn data_dir(
    env: &dyn Fn(&str) -> Option<String>,
    from_file: Option<PathBuf>,
) -> Result<PathBuf, ConfigError> {
    let dir = env(DATA_DIR_ENV)
        .map(PathBuf::from)
        .or(from_file)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    if dir.as_os_str().is_empty() {
        return Err(ConfigError::new(
            DATA_DIR_KEYS,
            "is empty; name a directory ringcast may create and write",
        ));
    }
    Ok(dir)
}

/// The `[webhooks]` settings, environment first.
pub(super) fn webhooks(
    env: &dyn Fn(&str) -> Option<String>,
    file: FileWebhooks,
) -> Result<WebhooksConfig, ConfigError> {
    let allowed_subnets = cidr_setting(
        (SUBNETS_ENV, env(SUBNETS_ENV)),
        ("webhooks.allowed_subnets", file.allowed_subnets),
    )?;
    let retention_days = retention_days(env, file.retention_days)?;
    let d = WebhooksConfig::default();
    let millis = |key: &str, v: Option<u64>, default: Duration| match v {
        Some(0) => Err(ConfigError::new(key, "must be at least 1 ms")),
        Some(ms) => Ok(Duration::from_millis(ms)),
        None => Ok(default),
    };
    if let Some(path) = file.ca_file.as_ref().filter(|p| !p.is_file()) {
        return Err(ConfigError::new(
            "webhooks.ca_file",
            format!(
                "{} is not a readable file; name the CA's PEM file",
                path.display()
            ),
        ));
    }
    Ok(WebhooksConfig {
        allowed_subnets,
        timeout: millis("webhooks.timeout_ms", file.timeout_ms, d.timeout)?,
        max_connections: positive(
            "webhooks.max_connections",
            file.max_connections,
            d.max_connections,
        )?,
        max_per_endpoint: positive(
            "webhooks.max_per_endpoint",
            file.max_per_endpoint,
            d.max_per_endpoint,
        )?,
        // Fewer idle slots than requests in flight would close connections after each burst.
        max_idle_per_endpoint: file
            .max_idle_per_endpoint
            .unwrap_or(file.max_per_endpoint.unwrap_or(d.max_idle_per_endpoint)),
        breaker_pause: millis(
            "webhooks.breaker_pause_ms",
            file.breaker_pause_ms,
            d.breaker_pause,
        )?,
        ca_file: file.ca_file,
        retention_days,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn data_dir_prefers_env_then_file_then_default() {
        let env = |k: &str| (k == DATA_DIR_ENV).then(|| "/env/dir".to_owned());
        let file = Some(PathBuf::from("/file/dir"));
        assert_eq!(
            data_dir(&env, file.clone()).unwrap(),
            PathBuf::from("/env/dir")
        );
        assert_eq!(data_dir(&no_env, file).unwrap(), PathBuf::from("/file/dir"));
        assert_eq!(
            data_dir(&no_env, None).unwrap(),
            PathBuf::from(DEFAULT_DATA_DIR)
        );
        let empty = |k: &str| (k == DATA_DIR_ENV).then(String::new);
        assert_eq!(data_dir(&empty, None).unwrap_err().key, DATA_DIR_KEYS);
    }

    #[test]
    fn subnets_come_from_env_or_file_and_bad_ones_name_their_key() {
        let env = |k: &str| (k == SUBNETS_ENV).then(|| "127.0.0.0/8, 10.1.0.0/16".to_owned());
        let got = webhooks(&env, FileWebhooks::default()).unwrap();
        assert_eq!(got.allowed_subnets.len(), 2);
        assert!(got.allowed_subnets[0].contains("127.0.0.9".parse().unwrap()));
        let file = FileWebhooks {
            allowed_subnets: Some(vec!["nonsense".into()]),
            ..FileWebhooks::default()
        };
        assert_eq!(
            webhooks(&no_env, file).unwrap_err().key,
            "webhooks.allowed_subnets"
        );
        assert!(webhooks(&no_env, FileWebhooks::default())
            .unwrap()
            .allowed_subnets
            .is_empty());
    }

    #[test]
    fn delivery_settings_have_defaults_and_refuse_zero_and_missing_files() {
        let got = webhooks(&no_env, FileWebhooks::default()).unwrap();
        assert_eq!(got, WebhooksConfig::default());
        assert_eq!(got.timeout, Duration::from_secs(30));
        let file = FileWebhooks {
            timeout_ms: Some(250),
            max_per_endpoint: Some(2),
            breaker_pause_ms: Some(1500),
            ..FileWebhooks::default()
        };
        let got = webhooks(&no_env, file).unwrap();
        assert_eq!(
            (got.timeout, got.max_per_endpoint, got.breaker_pause),
            (Duration::from_millis(250), 2, Duration::from_millis(1500))
        );
        let zero = FileWebhooks {
            max_connections: Some(0),
            ..FileWebhooks::default()
        };
        assert_eq!(
            webhooks(&no_env, zero).unwrap_err().key,
            "webhooks.max_connections"
        );
        let missing = FileWebhooks {
            ca_file: Some(PathBuf::from("/nonexistent/ca.pem")),
            ..FileWebhooks::default()
        };
        let e = webhooks(&no_env, missing).unwrap_err();
        assert_eq!(e.key, "webhooks.ca_file");
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn retention_defaults_to_90_days_and_refuses_zero() {
        let days = |env: &dyn Fn(&str) -> Option<String>, file: Option<u32>| {
            let file = FileWebhooks {
                retention_days: file,
                ..Default::default()
            };
            webhooks(env, file).map(|w| w.retention_days)
        };
        assert_eq!(days(&no_env, None).unwrap(), 90);
        assert_eq!(days(&no_env, Some(7)).unwrap(), 7);
        let env = |k: &str| (k == RETENTION_ENV).then(|| "3".to_owned());
        assert_eq!(days(&env, Some(7)).unwrap(), 3);
        assert_eq!(
            days(&no_env, Some(0)).unwrap_err().key,
            "webhooks.retention_days"
        );
        let bad = |k: &str| (k == RETENTION_ENV).then(|| "soon".to_owned());
        assert_eq!(days(&bad, None).unwrap_err().key, RETENTION_ENV);
    }
}
