//! The control core's settings: where the store lives (`server.data_dir`), which private
//! subnets webhook targets may reach (`[webhooks] allowed_subnets`) and how long delivery
//! history is kept (`[webhooks] retention_days`).
//!
//! Owns their TOML shape, their environment overrides (`RINGCAST_DATA_DIR`,
//! `RINGCAST_WEBHOOKS_ALLOWED_SUBNETS`, `RINGCAST_WEBHOOKS_RETENTION_DAYS`) and their defaults. It never creates the directory nor
//! opens the store: the control core does that at start and reports a failure naming
//! [`DATA_DIR_KEYS`].

use std::path::PathBuf;

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
    retention_days: Option<u32>,
}

/// Validated webhook settings.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhooksConfig {
    /// Private or loopback subnets that webhook targets may still use (the SSRF guard refuses
    /// every other non-public address).
    pub allowed_subnets: Vec<Cidr>,
    /// Days a finished delivery and its attempts stay in the log before the periodic cleanup
    /// removes them (at least 1).
    pub retention_days: u32,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            allowed_subnets: Vec::new(),
            retention_days: DEFAULT_RETENTION_DAYS,
        }
    }
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
    let retention_days = match env(RETENTION_ENV) {
        Some(v) => parse_num(RETENTION_ENV, &v, "a number of days (at least 1)")?,
        None => file.retention_days.unwrap_or(DEFAULT_RETENTION_DAYS),
    };
    if retention_days == 0 {
        return Err(ConfigError::new(
            "webhooks.retention_days",
            "must be at least 1 day; history is removed only after it",
        ));
    }
    Ok(WebhooksConfig {
        allowed_subnets,
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
            ..Default::default()
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
