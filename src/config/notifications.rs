//! One app's notification settings: the channel template for `user_id` targets and its quiet
//! hours (window, default zone, or off), from `[[apps]]` in the TOML file.
//!
//! Kept as text in [`AppConfig`] (which must stay comparable) and checked here at startup, so
//! [`settings`] never fails on a running server.

use super::{AppConfig, ConfigError};
use crate::proto::api::notifications::{
    NotificationSettings, DEFAULT_CHANNEL_TEMPLATE, USER_ID_PLACEHOLDER,
};
use crate::scheduler::{time_zone, QuietHours, QuietPolicy};

/// `notification_channel` unless set.
pub fn default_channel() -> String {
    DEFAULT_CHANNEL_TEMPLATE.to_owned()
}

/// `quiet_hours` unless set: 22:00 to 08:00.
pub fn default_quiet_hours() -> String {
    "22:00-08:00".to_owned()
}

/// `quiet_hours_zone` unless set.
pub fn default_zone() -> String {
    "UTC".to_owned()
}

/// The environment app's settings: `REVERB_APP_NOTIFICATION_CHANNEL`, `REVERB_APP_QUIET_HOURS`
/// and `REVERB_APP_QUIET_HOURS_ZONE` (checked with the rest in [`validate`]).
pub fn apply_env(app: &mut AppConfig, env: &dyn Fn(&str) -> Option<String>) {
    let set = |field: &mut String, key| {
        if let Some(v) = env(key).filter(|v| !v.trim().is_empty()) {
            *field = v.trim().to_owned();
        }
    };
    set(
        &mut app.notification_channel,
        "REVERB_APP_NOTIFICATION_CHANNEL",
    );
    set(&mut app.quiet_hours, "REVERB_APP_QUIET_HOURS");
    set(&mut app.quiet_hours_zone, "REVERB_APP_QUIET_HOURS_ZONE");
}

/// The window `quiet_hours` names: `None` for `off`.
fn window(text: &str) -> Result<Option<QuietHours>, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let (start, end) = text
        .split_once('-')
        .ok_or_else(|| format!("'{text}' must be HH:MM-HH:MM (like 22:00-08:00) or off"))?;
    QuietHours::parse(start.trim(), end.trim())
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Checks the template, the window and the zone.
pub fn validate(app: &AppConfig, at: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
    let sample = app.notification_channel.replace(USER_ID_PLACEHOLDER, "1");
    if !app.notification_channel.contains(USER_ID_PLACEHOLDER)
        || crate::proto::pusher::channel_kind(&sample).is_err()
    {
        return Err(ConfigError::new(
            at("notification_channel"),
            format!(
                "'{}' must be a channel name containing {USER_ID_PLACEHOLDER}, like \
                 {DEFAULT_CHANNEL_TEMPLATE}",
                app.notification_channel
            ),
        ));
    }
    window(&app.quiet_hours).map_err(|why| ConfigError::new(at("quiet_hours"), why))?;
    time_zone(&app.quiet_hours_zone).map_err(|e| {
        ConfigError::new(
            at("quiet_hours_zone"),
            format!("{e}; use an IANA name like Europe/Berlin"),
        )
    })?;
    Ok(())
}

/// The app's settings for parsing notification requests; the config was validated.
pub fn settings(app: &AppConfig) -> NotificationSettings {
    let fallback = NotificationSettings::default();
    NotificationSettings {
        channel_template: app.notification_channel.clone(),
        quiet: QuietPolicy {
            window: window(&app.quiet_hours).unwrap_or(fallback.quiet.window),
            default_zone: time_zone(&app.quiet_hours_zone).unwrap_or(fallback.quiet.default_zone),
        },
        max_data_bytes: app.max_message_size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(app: &AppConfig) -> Result<(), ConfigError> {
        validate(app, &|f| f.to_owned())
    }

    #[test]
    fn defaults_are_valid_and_each_setting_is_checked() {
        let mut app = AppConfig::with_credentials("1", "k", "s");
        check(&app).unwrap();
        assert!(settings(&app).quiet.window.is_some());
        app.quiet_hours = "off".into();
        assert!(settings(&app).quiet.window.is_none());
        app.notification_channel = "private-App.Models.User".into();
        assert!(check(&app).is_err());
        app.notification_channel = "private-App.Models.User.{user_id}".into();
        app.quiet_hours = "22:00".into();
        assert!(check(&app).is_err());
        app.quiet_hours = "23:00-07:30".into();
        app.quiet_hours_zone = "Mars/Olympus".into();
        assert!(check(&app).is_err());
        app.quiet_hours_zone = "Europe/Berlin".into();
        check(&app).unwrap();
    }
}
