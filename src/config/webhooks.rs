//! The control core's settings: where the store lives (`server.data_dir`) and which private
//! subnets webhook targets may reach (`[webhooks] allowed_subnets`).
//!
//! Owns their TOML shape, their environment overrides (`RINGCAST_DATA_DIR`,
//! `RINGCAST_WEBHOOKS_ALLOWED_SUBNETS`) and their defaults. It never creates the directory nor
//! opens the store: the control core does that at start and reports a failure naming
//! [`DATA_DIR_KEYS`].

use std::path::PathBuf;

use serde::Deserialize;

use super::{cidr_setting, ConfigError};
use crate::ratelimit::Cidr;
use crate::store::sqlite::{DATA_DIR_ENV, DEFAULT_DATA_DIR};

/// How a startup error names the data directory setting.
pub const DATA_DIR_KEYS: &str = "RINGCAST_DATA_DIR (server.data_dir)";

/// The environment variable that lists the allowed subnets, comma-separated.
const SUBNETS_ENV: &str = "RINGCAST_WEBHOOKS_ALLOWED_SUBNETS";

/// The `[webhooks]` table of the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileWebhooks {
    allowed_subnets: Option<Vec<String>>,
}

/// Validated webhook settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhooksConfig {
    /// Private or loopback subnets that webhook targets may still use (the SSRF guard refuses
    /// every other non-public address).
    pub allowed_subnets: Vec<Cidr>,
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
    Ok(WebhooksConfig { allowed_subnets })
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
}
