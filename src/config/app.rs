//! One app's settings: credentials and per-app limits, from `[[apps]]` in the TOML file or
//! from the `REVERB_APP_*` environment of a Laravel `.env`, and their validation.

use std::collections::HashSet;

use serde::Deserialize;

use super::{parse_bool, parse_num, ConfigError, ConnectionAuth};

/// One Pusher app: credentials and its per-app limits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// App id used in REST paths (`/apps/{id}/...`).
    pub id: String,
    /// Public key clients connect with (`/app/{key}`).
    pub key: String,
    /// Secret that signs channel auth and REST requests.
    pub secret: String,
    /// Seconds of client silence before the server sends `pusher:ping`.
    #[serde(default = "defaults::ping_interval")]
    pub ping_interval: u32,
    /// Seconds announced to clients as `activity_timeout`, and the grace given for a pong.
    #[serde(default = "defaults::activity_timeout")]
    pub activity_timeout: u32,
    /// Largest WebSocket message (and REST event payload) in bytes.
    #[serde(default = "defaults::max_message_size")]
    pub max_message_size: usize,
    /// Most simultaneous connections for this app; `None` is unlimited.
    #[serde(default)]
    pub max_connections: Option<u64>,
    /// Origins allowed to connect; `*` allows any.
    #[serde(default = "defaults::allowed_origins")]
    pub allowed_origins: Vec<String>,
    /// Most distinct users in one presence channel.
    #[serde(default = "defaults::max_presence_members")]
    pub max_presence_members: usize,
    /// Seconds a cache channel keeps its last event.
    #[serde(default = "defaults::cache_ttl")]
    pub cache_ttl: u32,
    /// Whether `client-*` events are accepted.
    #[serde(default = "defaults::enable_client_messages")]
    pub enable_client_messages: bool,
    /// Client events one connection may send per second.
    #[serde(default = "defaults::max_client_events_per_second")]
    pub max_client_events_per_second: u32,
    /// When set, connections must `pusher:signin` within this many seconds.
    #[serde(default)]
    pub user_authentication_timeout: Option<u32>,
    /// Most channels one REST event may name.
    #[serde(default = "defaults::max_channels_per_event")]
    pub max_channels_per_event: usize,
    /// Longest event name accepted.
    #[serde(default = "defaults::max_event_name_length")]
    pub max_event_name_length: usize,
    /// Messages one connection may send per second (all kinds); the excess is dropped with 4301.
    #[serde(default = "defaults::max_messages_per_second")]
    pub max_messages_per_second: u32,
    /// Channels one connection may subscribe to.
    #[serde(default = "defaults::max_subscriptions_per_connection")]
    pub max_subscriptions_per_connection: usize,
    /// REST events per second for the whole app (0 = unlimited); the excess gets HTTP 429.
    #[serde(default)]
    pub max_backend_events_per_second: u32,
    /// Token a WebSocket upgrade must carry: none, jwt, sanctum or jwt_or_sanctum.
    #[serde(default)]
    pub connection_auth: ConnectionAuth,
    /// The app's Sanctum introspection URL (http:// only), for the sanctum modes.
    #[serde(default)]
    pub sanctum_url: Option<String>,
    /// Seconds a Sanctum verdict (valid or invalid) is cached per shard; 0 = no cache.
    #[serde(default = "super::conn_auth::default_sanctum_cache_ttl")]
    pub sanctum_cache_ttl: u32,
    /// Channel prefix of filtered collection subscriptions (`{prefix}{collection}`).
    #[serde(default = "super::collections::default_realtime_prefix")]
    pub realtime_prefix: String,
    /// Whether an update that stops matching a subscriber's filter is sent as `deleted`.
    #[serde(default = "super::collections::default_realtime_leaves")]
    pub realtime_leaves: bool,
    /// Whether record changes are matched through the per-collection equality index (the
    /// default); `false` evaluates every subscriber's filter on every change, a baseline for
    /// benchmarks only.
    #[serde(default = "super::collections::default_realtime_index")]
    pub realtime_index: bool,
    /// Collections clients may subscribe to with a filter.
    #[serde(default)]
    pub collections: Vec<super::CollectionConfig>,
    /// Channel of notifications sent to a `user_id`, with `{user_id}` where the id goes.
    #[serde(default = "super::notifications::default_channel")]
    pub notification_channel: String,
    /// Quiet hours for notifications, `HH:MM-HH:MM` in local time, or `off`.
    #[serde(default = "super::notifications::default_quiet_hours")]
    pub quiet_hours: String,
    /// IANA zone for the quiet hours of notifications that name none.
    #[serde(default = "super::notifications::default_zone")]
    pub quiet_hours_zone: String,
    /// Receivers of the app's Pusher channel webhooks.
    #[serde(default)]
    pub webhooks: Vec<super::PusherWebhookConfig>,
}

mod defaults {
    pub fn ping_interval() -> u32 {
        60
    }
    pub fn activity_timeout() -> u32 {
        30
    }
    pub fn max_message_size() -> usize {
        10_000
    }
    pub fn allowed_origins() -> Vec<String> {
        vec!["*".to_owned()]
    }
    pub fn max_presence_members() -> usize {
        100
    }
    pub fn cache_ttl() -> u32 {
        1800
    }
    pub fn enable_client_messages() -> bool {
        true
    }
    pub fn max_client_events_per_second() -> u32 {
        10
    }
    pub fn max_channels_per_event() -> usize {
        100
    }
    pub fn max_event_name_length() -> usize {
        200
    }
    pub fn max_messages_per_second() -> u32 {
        100
    }
    pub fn max_subscriptions_per_connection() -> usize {
        1000
    }
}

impl AppConfig {
    pub(crate) fn with_credentials(id: &str, key: &str, secret: &str) -> Self {
        AppConfig {
            id: id.to_owned(),
            key: key.to_owned(),
            secret: secret.to_owned(),
            ping_interval: defaults::ping_interval(),
            activity_timeout: defaults::activity_timeout(),
            max_message_size: defaults::max_message_size(),
            max_connections: None,
            allowed_origins: defaults::allowed_origins(),
            max_presence_members: defaults::max_presence_members(),
            cache_ttl: defaults::cache_ttl(),
            enable_client_messages: defaults::enable_client_messages(),
            max_client_events_per_second: defaults::max_client_events_per_second(),
            user_authentication_timeout: None,
            max_channels_per_event: defaults::max_channels_per_event(),
            max_event_name_length: defaults::max_event_name_length(),
            max_messages_per_second: defaults::max_messages_per_second(),
            max_subscriptions_per_connection: defaults::max_subscriptions_per_connection(),
            max_backend_events_per_second: 0,
            connection_auth: ConnectionAuth::None,
            sanctum_url: None,
            sanctum_cache_ttl: super::conn_auth::default_sanctum_cache_ttl(),
            realtime_prefix: super::collections::default_realtime_prefix(),
            realtime_leaves: super::collections::default_realtime_leaves(),
            realtime_index: super::collections::default_realtime_index(),
            collections: Vec::new(),
            notification_channel: super::notifications::default_channel(),
            quiet_hours: super::notifications::default_quiet_hours(),
            quiet_hours_zone: super::notifications::default_zone(),
            webhooks: Vec::new(),
        }
    }
}

/// The app described by `REVERB_APP_*`, if `REVERB_APP_KEY` is set.
pub(super) fn env_app(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<AppConfig>, ConfigError> {
    let Some(key) = env("REVERB_APP_KEY") else {
        return Ok(None);
    };
    let secret = env("REVERB_APP_SECRET").ok_or_else(|| {
        ConfigError::new(
            "REVERB_APP_SECRET",
            "is required when REVERB_APP_KEY is set",
        )
    })?;
    let id = env("REVERB_APP_ID").ok_or_else(|| {
        ConfigError::new("REVERB_APP_ID", "is required when REVERB_APP_KEY is set")
    })?;
    let mut app = AppConfig::with_credentials(&id, &key, &secret);
    if let Some(v) = env("REVERB_APP_PING_INTERVAL") {
        app.ping_interval = parse_num("REVERB_APP_PING_INTERVAL", &v, "seconds")?;
    }
    if let Some(v) = env("REVERB_APP_ACTIVITY_TIMEOUT") {
        app.activity_timeout = parse_num("REVERB_APP_ACTIVITY_TIMEOUT", &v, "seconds")?;
    }
    if let Some(v) = env("REVERB_APP_MAX_MESSAGE_SIZE") {
        app.max_message_size = parse_num("REVERB_APP_MAX_MESSAGE_SIZE", &v, "bytes")?;
    }
    if let Some(v) = env("REVERB_APP_MAX_CONNECTIONS").filter(|v| !v.trim().is_empty()) {
        app.max_connections = Some(parse_num(
            "REVERB_APP_MAX_CONNECTIONS",
            &v,
            "a connection count",
        )?);
    }
    if let Some(v) = env("REVERB_APP_MAX_PRESENCE_MEMBERS") {
        app.max_presence_members =
            parse_num("REVERB_APP_MAX_PRESENCE_MEMBERS", &v, "a member count")?;
    }
    if let Some(v) = env("REVERB_APP_CACHE_TTL") {
        app.cache_ttl = parse_num("REVERB_APP_CACHE_TTL", &v, "seconds")?;
    }
    if let Some(v) = env("REVERB_APP_ENABLE_CLIENT_MESSAGES") {
        app.enable_client_messages = parse_bool("REVERB_APP_ENABLE_CLIENT_MESSAGES", &v)?;
    }
    if let Some(v) = env("REVERB_APP_MAX_CLIENT_EVENTS_PER_SECOND") {
        app.max_client_events_per_second = parse_num(
            "REVERB_APP_MAX_CLIENT_EVENTS_PER_SECOND",
            &v,
            "events per second",
        )?;
    }
    if let Some(v) = env("REVERB_APP_USER_AUTHENTICATION_TIMEOUT").filter(|v| !v.trim().is_empty())
    {
        app.user_authentication_timeout = Some(parse_num(
            "REVERB_APP_USER_AUTHENTICATION_TIMEOUT",
            &v,
            "seconds",
        )?);
    }
    if let Some(v) = env("REVERB_APP_MAX_CHANNELS_PER_EVENT") {
        app.max_channels_per_event =
            parse_num("REVERB_APP_MAX_CHANNELS_PER_EVENT", &v, "a channel count")?;
    }
    if let Some(v) = env("REVERB_APP_MAX_EVENT_NAME_LENGTH") {
        app.max_event_name_length = parse_num("REVERB_APP_MAX_EVENT_NAME_LENGTH", &v, "a length")?;
    }
    if let Some(v) = env("REVERB_APP_MAX_MESSAGES_PER_SECOND") {
        app.max_messages_per_second = parse_num(
            "REVERB_APP_MAX_MESSAGES_PER_SECOND",
            &v,
            "messages per second",
        )?;
    }
    if let Some(v) = env("REVERB_APP_MAX_SUBSCRIPTIONS_PER_CONNECTION") {
        app.max_subscriptions_per_connection = parse_num(
            "REVERB_APP_MAX_SUBSCRIPTIONS_PER_CONNECTION",
            &v,
            "a channel count",
        )?;
    }
    if let Some(v) = env("REVERB_APP_MAX_BACKEND_EVENTS_PER_SECOND") {
        app.max_backend_events_per_second = parse_num(
            "REVERB_APP_MAX_BACKEND_EVENTS_PER_SECOND",
            &v,
            "events per second (0 = unlimited)",
        )?;
    }
    if let Some(v) = env("REVERB_APP_ALLOWED_ORIGINS") {
        app.allowed_origins = v
            .split(',')
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect();
    }
    super::conn_auth::apply_env(&mut app, env)?;
    super::collections::apply_env(&mut app, env)?;
    super::notifications::apply_env(&mut app, env);
    super::pusher_webhooks::apply_env(&mut app, env)?;
    Ok(Some(app))
}

pub(super) fn validate_apps(apps: &[AppConfig]) -> Result<(), ConfigError> {
    let mut ids = HashSet::new();
    let mut keys = HashSet::new();
    for (i, app) in apps.iter().enumerate() {
        let at = |field: &str| format!("apps[{i}].{field}");
        if app.id.is_empty() || app.key.is_empty() || app.secret.is_empty() {
            return Err(ConfigError::new(
                at("id/key/secret"),
                "app id, key and secret must not be empty",
            ));
        }
        if !app.key.bytes().all(|b| b.is_ascii_graphic() && b != b'/') {
            return Err(ConfigError::new(
                at("key"),
                "must be printable ASCII without '/' (it appears in the /app/{key} path)",
            ));
        }
        if !ids.insert(app.id.as_str()) {
            return Err(ConfigError::new(
                at("id"),
                format!("app id '{}' is used twice", app.id),
            ));
        }
        if !keys.insert(app.key.as_str()) {
            return Err(ConfigError::new(
                at("key"),
                format!("app key '{}' is used twice", app.key),
            ));
        }
        if app.max_message_size < 128 {
            return Err(ConfigError::new(
                at("max_message_size"),
                "must be at least 128 bytes",
            ));
        }
        if app.ping_interval == 0 || app.activity_timeout == 0 {
            return Err(ConfigError::new(
                at("ping_interval/activity_timeout"),
                "must be at least 1 second",
            ));
        }
        super::conn_auth::validate(app, &at)?;
        super::collections::validate(app, &at)?;
        super::notifications::validate(app, &at)?;
    }
    Ok(())
}
