//! The per-app Pusher channel webhooks (TOML `[[apps]] webhooks = [{ url, event_types, filter? }]`
//! or `REVERB_APP_WEBHOOKS` as a JSON array of the same objects, Reverb's and soketi's shape) and
//! their validation at startup.
//!
//! Every URL goes through the SSRF guard with `webhooks.allowed_subnets`, and every event type
//! must be one Pusher sends, so a typo stops the server instead of silently sending nothing.

use serde::Deserialize;

use super::{AppConfig, ConfigError};
use crate::ratelimit::Cidr;
use crate::webhook::body::PUSHER_EVENT_TYPES;
use crate::webhook::endpoint::PUSHER_RETRY_DELAYS;
use crate::webhook::ssrf::parse_url;

/// Most retries of a config-file receiver: channel events describe live state, so the
/// schedule stays short.
const MAX_RETRIES: usize = 10;
/// Longest delay before one retry, in seconds.
const MAX_RETRY_DELAY_S: u32 = 3600;

/// One receiver of an app's channel webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PusherWebhookConfig {
    /// Where the signed `{time_ms, events}` bodies are POSTed.
    pub url: String,
    /// The event types it receives (`channel_occupied`, `member_added`, …).
    pub event_types: Vec<String>,
    /// Restricts the channels whose events it receives.
    #[serde(default)]
    pub filter: Option<ChannelFilter>,
    /// Seconds before each retry of a failed batch, one retry per entry; Pusher's short
    /// schedule (`PUSHER_RETRY_DELAYS`) when absent.
    #[serde(default)]
    pub retry_delays: Option<Vec<u32>>,
}

/// soketi's and sockudo's channel filter: every given condition must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelFilter {
    /// The channel name starts with this.
    #[serde(default)]
    pub channel_name_starts_with: Option<String>,
    /// The channel name ends with this.
    #[serde(default)]
    pub channel_name_ends_with: Option<String>,
}

impl PusherWebhookConfig {
    /// Whether an event of `kind` on `channel` goes to this receiver.
    pub fn wants(&self, kind: &str, channel: &str) -> bool {
        let (starts, ends) = match &self.filter {
            Some(f) => (
                f.channel_name_starts_with.as_deref().unwrap_or(""),
                f.channel_name_ends_with.as_deref().unwrap_or(""),
            ),
            None => ("", ""),
        };
        self.event_types.iter().any(|t| t == kind)
            && channel.starts_with(starts)
            && channel.ends_with(ends)
    }
}

/// Applies `REVERB_APP_WEBHOOKS` to the env-defined app.
pub fn apply_env(
    app: &mut AppConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    if let Some(v) = env("REVERB_APP_WEBHOOKS").filter(|v| !v.trim().is_empty()) {
        app.webhooks = serde_json::from_str(&v).map_err(|e| {
            ConfigError::new(
                "REVERB_APP_WEBHOOKS",
                format!("{e}: expected a JSON array like [{{\"url\":\"https://example.com/hook\",\"event_types\":[\"channel_occupied\"]}}]"),
            )
        })?;
    }
    Ok(())
}

/// Checks every app's receivers: known event types, and a URL the SSRF guard accepts.
pub fn validate(apps: &[AppConfig], allowed: &[Cidr]) -> Result<(), ConfigError> {
    for (i, app) in apps.iter().enumerate() {
        for (j, hook) in app.webhooks.iter().enumerate() {
            let at = |field: &str| format!("apps[{i}].webhooks[{j}].{field}");
            if let Err(e) = parse_url(&hook.url, allowed) {
                return Err(ConfigError::new(
                    at("url"),
                    format!("{e} (allow private targets with webhooks.allowed_subnets)"),
                ));
            }
            let delays = hook.retry_delays.as_deref().unwrap_or_default();
            if delays.len() > MAX_RETRIES || delays.iter().any(|d| *d > MAX_RETRY_DELAY_S) {
                return Err(ConfigError::new(
                    at("retry_delays"),
                    format!(
                        "give at most {MAX_RETRIES} delays of at most {MAX_RETRY_DELAY_S} s \
                         each (the default is {PUSHER_RETRY_DELAYS:?})"
                    ),
                ));
            }
            if hook.event_types.is_empty() {
                return Err(ConfigError::new(
                    at("event_types"),
                    format!(
                        "must list at least one of {}",
                        PUSHER_EVENT_TYPES.join(", ")
                    ),
                ));
            }
            if let Some(bad) = hook
                .event_types
                .iter()
                .find(|t| !PUSHER_EVENT_TYPES.contains(&t.as_str()))
            {
                return Err(ConfigError::new(
                    at("event_types"),
                    format!(
                        "unknown event type '{bad}'; use {}",
                        PUSHER_EVENT_TYPES.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(url: &str, types: &[&str]) -> PusherWebhookConfig {
        PusherWebhookConfig {
            url: url.into(),
            event_types: types.iter().map(|t| t.to_string()).collect(),
            filter: None,
            retry_delays: None,
        }
    }

    #[test]
    fn filter_and_types_select_events() {
        let mut h = hook("http://x", &["channel_occupied"]);
        assert!(h.wants("channel_occupied", "presence-a"));
        assert!(!h.wants("channel_vacated", "presence-a"));
        h.filter = Some(ChannelFilter {
            channel_name_starts_with: Some("presence-".into()),
            channel_name_ends_with: Some("-room".into()),
        });
        assert!(h.wants("channel_occupied", "presence-big-room"));
        assert!(!h.wants("channel_occupied", "presence-big"));
        assert!(!h.wants("channel_occupied", "private-big-room"));
    }

    #[test]
    fn bad_urls_and_types_are_refused_with_their_key() {
        let mut app = AppConfig::with_credentials("1", "k", "s");
        let loopback = [Cidr::parse("127.0.0.0/8").unwrap()];
        app.webhooks = vec![hook("http://127.0.0.1:9/h", &["member_added"])];
        assert!(validate(std::slice::from_ref(&app), &loopback).is_ok());
        let e = validate(std::slice::from_ref(&app), &[]).unwrap_err();
        assert!(e.to_string().contains("apps[0].webhooks[0].url"), "{e}");
        app.webhooks = vec![hook("http://127.0.0.1:9/h", &["channel_ocupied"])];
        let e = validate(std::slice::from_ref(&app), &loopback).unwrap_err();
        assert!(e.to_string().contains("channel_ocupied"), "{e}");
        app.webhooks = vec![hook("http://127.0.0.1:9/h", &["member_added"])];
        app.webhooks[0].retry_delays = Some(vec![1, 7200]);
        let e = validate(std::slice::from_ref(&app), &loopback).unwrap_err();
        assert!(
            e.to_string().contains("apps[0].webhooks[0].retry_delays"),
            "{e}"
        );
        let json = r#"[{"url":"http://127.0.0.1/h","event_types":["client_event"],"filter":{"channel_name_starts_with":"private-"}}]"#;
        let env = |k: &str| (k == "REVERB_APP_WEBHOOKS").then(|| json.to_owned());
        apply_env(&mut app, &env).unwrap();
        assert!(app.webhooks[0].wants("client_event", "private-x"));
    }

    #[test]
    fn toml_apps_take_receivers_with_filters() {
        let text = r#"
            [[apps]]
            id = "1"
            key = "k"
            secret = "s"
            webhooks = [
                { url = "http://127.0.0.1:9/h", event_types = ["channel_vacated"], filter = { channel_name_ends_with = "-room" } },
            ]
        "#;
        let apps = super::super::parse_file(text).unwrap().apps;
        let hook = &apps[0].webhooks[0];
        assert!(hook.wants("channel_vacated", "presence-a-room"));
        assert!(!hook.wants("channel_vacated", "presence-a"));
        let bad = text.replace("channel_name_ends_with", "channel_suffix");
        let e = super::super::parse_file(&bad).unwrap_err();
        assert!(e.to_string().contains("channel_suffix"), "{e}");
    }
}
