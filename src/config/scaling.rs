//! Scaling settings: whether this node joins others through Redis, and how to reach Redis.
//!
//! The names are Reverb's and Laravel's, so an existing `.env` works as is:
//! `REVERB_SCALING_ENABLED` (default false), `REVERB_SCALING_CHANNEL` (default `reverb`),
//! `REDIS_URL` (`redis://` or `rediss://`, user, password and database in the URL) or
//! `REDIS_HOST` (127.0.0.1) / `REDIS_PORT` (6379) / `REDIS_USERNAME` / `REDIS_PASSWORD` /
//! `REDIS_DB` (0). The TOML file has the same keys under `[scaling]`, plus `key_prefix`.
//! For `rediss://`, `RINGCAST_REDIS_CA` (TOML `tls_ca`) names the PEM file of the CA that
//! signed Redis's certificate; without it the system's CA bundle is trusted.
//! As in Laravel, what the URL holds wins over the separate keys, and the value `null` (what
//! Laravel's stock `.env` writes for an unset password) counts as unset.
//!
//! With scaling off nothing here is parsed at all: a node that does not scale neither reads
//! nor rejects Redis settings meant for the Laravel app, and never touches Redis.

use std::path::PathBuf;

use serde::Deserialize;

use super::{parse_bool, parse_num, ConfigError};

/// Redis port when none is given (Laravel's and Redis's default).
pub const DEFAULT_REDIS_PORT: u16 = 6379;
/// Pub/sub channel shared by the nodes when none is given (Reverb's default).
pub const DEFAULT_CHANNEL: &str = "reverb";
/// Prefix of every key ringcast writes in Redis when none is given.
pub const DEFAULT_KEY_PREFIX: &str = "ringcast:";

/// Validated scaling settings; present only when scaling is enabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalingConfig {
    /// The pub/sub channel every node publishes to and subscribes on.
    pub channel: String,
    /// Prefix of the keys this cluster writes (heartbeats, presence, queues).
    pub key_prefix: String,
    /// Where Redis is and how to log in.
    pub redis: RedisTarget,
}

/// One Redis server: address, credentials and database.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisTarget {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// ACL user name (Redis 6+); `None` logs in as `default` when a password is set.
    pub username: Option<String>,
    /// Password for `AUTH`; `None` sends no `AUTH`.
    pub password: Option<String>,
    /// Logical database chosen with `SELECT` (0 sends nothing).
    pub db: u32,
    /// `rediss://`: the connection is wrapped in TLS.
    pub tls: bool,
    /// PEM file of the CA to trust for TLS; `None` trusts the system bundle.
    pub tls_ca: Option<PathBuf>,
}

impl RedisTarget {
    /// `host:port` as it appears in errors and logs (IPv6 in brackets); never the password.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Hand-written so that a logged or printed configuration never shows the password.
impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTarget")
            .field("address", &self.address())
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .field("db", &self.db)
            .field("tls", &self.tls)
            .field("tls_ca", &self.tls_ca)
            .finish()
    }
}

/// The `[scaling]` table of the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileScaling {
    enabled: Option<bool>,
    channel: Option<String>,
    key_prefix: Option<String>,
    url: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    username: Option<String>,
    password: Option<String>,
    db: Option<u32>,
    tls_ca: Option<PathBuf>,
}

/// One setting read from the environment (first) or the file, with the key that supplied it.
struct Setting {
    key: String,
    value: String,
}

fn setting(
    env: &dyn Fn(&str) -> Option<String>,
    env_key: &str,
    file_key: &str,
    file_value: Option<String>,
) -> Option<Setting> {
    let unset = |v: &str| v.is_empty() || v == "null" || v == "(null)";
    match env(env_key) {
        Some(v) if !unset(&v) => Some(Setting {
            key: env_key.to_owned(),
            value: v,
        }),
        // An explicitly empty or `null` variable overrides the file, as unset.
        Some(_) => None,
        None => file_value.filter(|v| !unset(v)).map(|value| Setting {
            key: format!("scaling.{file_key}"),
            value,
        }),
    }
}

/// Reads the scaling settings; `Ok(None)` when scaling is off (the default).
pub(super) fn load(
    file: FileScaling,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ScalingConfig>, ConfigError> {
    let enabled = match env("REVERB_SCALING_ENABLED") {
        Some(v) => parse_bool("REVERB_SCALING_ENABLED", &v)?,
        None => file.enabled.unwrap_or(false),
    };
    if !enabled {
        return Ok(None);
    }
    let channel = setting(env, "REVERB_SCALING_CHANNEL", "channel", file.channel);
    let channel = match channel {
        Some(s)
            if s.value
                .contains(|c: char| c.is_whitespace() || c.is_control()) =>
        {
            return Err(ConfigError::new(
                s.key,
                "a channel name has no spaces or control characters (e.g. reverb)",
            ))
        }
        Some(s) => s.value,
        None => DEFAULT_CHANNEL.to_owned(),
    };
    let key_prefix = file
        .key_prefix
        .unwrap_or_else(|| DEFAULT_KEY_PREFIX.to_owned());
    let url = setting(env, "REDIS_URL", "url", file.url);
    let host = setting(env, "REDIS_HOST", "host", file.host);
    let port = setting(env, "REDIS_PORT", "port", file.port.map(|p| p.to_string()));
    let username = setting(env, "REDIS_USERNAME", "username", file.username);
    let password = setting(env, "REDIS_PASSWORD", "password", file.password);
    let db = setting(env, "REDIS_DB", "db", file.db.map(|d| d.to_string()));
    let tls_ca = setting(
        env,
        "RINGCAST_REDIS_CA",
        "tls_ca",
        file.tls_ca.map(|p| p.display().to_string()),
    );
    let mut redis = RedisTarget {
        host: host.map_or_else(|| "127.0.0.1".to_owned(), |s| s.value),
        port: match port {
            Some(s) => parse_port(&s.key, &s.value)?,
            None => DEFAULT_REDIS_PORT,
        },
        username: username.map(|s| s.value),
        password: password.map(|s| s.value),
        db: match db {
            Some(s) => parse_num(&s.key, &s.value, "a database number (0, 1, ...)")?,
            None => 0,
        },
        tls: false,
        tls_ca: tls_ca.map(|s| PathBuf::from(s.value)),
    };
    if let Some(url) = url {
        apply_url(&mut redis, &url.key, &url.value)?;
    }
    if redis.host.is_empty() {
        return Err(ConfigError::new(
            "REDIS_HOST",
            "is empty: set the Redis host",
        ));
    }
    Ok(Some(ScalingConfig {
        channel,
        key_prefix,
        redis,
    }))
}

fn parse_port(key: &str, value: &str) -> Result<u16, ConfigError> {
    match parse_num::<u16>(key, value, "a port number 1-65535")? {
        0 => Err(ConfigError::new(key, "0 is not a port: set 1-65535")),
        p => Ok(p),
    }
}

/// Overlays what `url` holds onto `target`:
/// `redis[s]://[[user][:password]@]host[:port][/db]`, user and password percent-encoded.
fn apply_url(target: &mut RedisTarget, key: &str, url: &str) -> Result<(), ConfigError> {
    let bad = |why: &str| {
        ConfigError::new(
            key,
            format!("{why} (expected redis://[user:password@]host[:port][/db] or rediss://...)"),
        )
    };
    let (tls, rest) = if let Some(rest) = url.strip_prefix("redis://") {
        (false, rest)
    } else if let Some(rest) = url.strip_prefix("rediss://") {
        (true, rest)
    } else {
        return Err(bad("the scheme is not redis:// or rediss://"));
    };
    if rest.contains(['?', '#']) {
        return Err(bad("query strings and fragments are not supported"));
    }
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (host, port) = split_host_port(hostport).ok_or_else(|| bad("the host is malformed"))?;
    if host.is_empty() {
        return Err(bad("the host is missing"));
    }
    target.host = host.to_owned();
    target.tls = tls;
    if let Some(port) = port {
        target.port = parse_port(key, port)?;
    }
    if let Some(info) = userinfo {
        let (user, pass) = match info.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (info, None),
        };
        let decode =
            |s: &str| percent_decode(s).ok_or_else(|| bad("bad %-escape in the user or password"));
        if !user.is_empty() {
            target.username = Some(decode(user)?);
        }
        if let Some(p) = pass.filter(|p| !p.is_empty()) {
            target.password = Some(decode(p)?);
        }
    }
    if !path.is_empty() {
        target.db = parse_num(key, path, "a URL whose path is a database number (e.g. /0)")?;
    }
    Ok(())
}

/// `host[:port]` or `[v6][:port]`; `None` when the brackets do not close.
fn split_host_port(s: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            _ => after.strip_prefix(':').map(|p| (host, Some(p))),
        };
    }
    Some(match s.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    })
}

/// Decodes `%XX` escapes (UTF-8 result); `None` on a malformed escape.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
#[path = "scaling_tests.rs"]
mod tests;
