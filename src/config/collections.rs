//! The per-app collection settings (TOML `[[apps]]` keys `realtime_prefix`, `realtime_leaves`,
//! `realtime_index` and `collections = [{ name, list_rule?, public? }]`, or
//! `REVERB_APP_REALTIME_PREFIX`, `REVERB_APP_REALTIME_LEAVES`, `REVERB_APP_REALTIME_INDEX` and
//! `REVERB_APP_COLLECTIONS` as a JSON array of the same objects) and their validation.
//!
//! A collection is served only when it has a list rule (PocketBase's filter grammar, read with
//! the subscriber's `@request.auth.*`) or is explicitly public; every rule is parsed here at
//! startup so a bad one is a configuration error naming the collection, never a runtime 500.

use serde::Deserialize;

use super::{parse_bool, AppConfig, ConfigError};
use crate::proto::filter;

/// One collection clients may subscribe to with a filter.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionConfig {
    /// The collection's name; its channel is the app's `realtime_prefix` followed by it.
    pub name: String,
    /// The rule every subscriber's filter is ANDed with (e.g. `owner = @request.auth.id`).
    #[serde(default)]
    pub list_rule: Option<String>,
    /// Without a rule, whether every record is visible to every subscriber.
    #[serde(default)]
    pub public: bool,
}

/// The default channel prefix of collections (Velo's).
pub fn default_realtime_prefix() -> String {
    "velo.realtime.".to_owned()
}

/// By default an update that stops matching a filter is sent as `deleted`.
pub fn default_realtime_leaves() -> bool {
    true
}

/// By default changes are matched through the index; off only to measure what it saves.
pub fn default_realtime_index() -> bool {
    true
}

/// Applies the `REVERB_APP_*` collection variables to the env-defined app.
pub fn apply_env(
    app: &mut AppConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    if let Some(v) = env("REVERB_APP_REALTIME_PREFIX") {
        app.realtime_prefix = v.trim().to_owned();
    }
    if let Some(v) = env("REVERB_APP_REALTIME_LEAVES") {
        app.realtime_leaves = parse_bool("REVERB_APP_REALTIME_LEAVES", &v)?;
    }
    if let Some(v) = env("REVERB_APP_REALTIME_INDEX") {
        app.realtime_index = parse_bool("REVERB_APP_REALTIME_INDEX", &v)?;
    }
    if let Some(v) = env("REVERB_APP_COLLECTIONS").filter(|v| !v.trim().is_empty()) {
        app.collections = serde_json::from_str(&v).map_err(|e| {
            ConfigError::new(
                "REVERB_APP_COLLECTIONS",
                format!("{e}: expected a JSON array like [{{\"name\":\"posts\",\"list_rule\":\"owner = @request.auth.id\"}}]"),
            )
        })?;
    }
    Ok(())
}

/// Checks the collection names and parses every list rule.
pub fn validate(app: &AppConfig, at: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
    if app.realtime_prefix.is_empty() && !app.collections.is_empty() {
        return Err(ConfigError::new(
            at("realtime_prefix"),
            "must not be empty when collections are configured (their channels start with it)",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (j, c) in app.collections.iter().enumerate() {
        let here = at(&format!("collections[{j}]"));
        let channel = format!("{}{}", app.realtime_prefix, c.name);
        if c.name.is_empty() || crate::proto::pusher::channel_kind(&channel).is_err() {
            return Err(ConfigError::new(
                here,
                format!("collection name '{}' does not make a valid channel name '{channel}' (letters, digits and _-=@,.; only)", c.name),
            ));
        }
        if !seen.insert(c.name.as_str()) {
            return Err(ConfigError::new(
                here,
                format!("collection '{}' is listed twice", c.name),
            ));
        }
        match &c.list_rule {
            Some(rule) => {
                if let Err(e) = filter::parse(rule) {
                    return Err(ConfigError::new(
                        format!("{here}.list_rule"),
                        format!("the rule of collection '{}' does not parse: {e}", c.name),
                    ));
                }
            }
            None if !c.public => {
                return Err(ConfigError::new(
                    here,
                    format!(
                        "collection '{}' has no list_rule: give it one or set public = true",
                        c.name
                    ),
                ))
            }
            None => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app_with(collections: Vec<CollectionConfig>) -> AppConfig {
        let mut app = AppConfig::with_credentials("1", "k", "s");
        app.collections = collections;
        app
    }

    fn collection(name: &str, rule: Option<&str>, public: bool) -> CollectionConfig {
        CollectionConfig {
            name: name.to_owned(),
            list_rule: rule.map(str::to_owned),
            public,
        }
    }

    fn check(app: &AppConfig) -> Result<(), ConfigError> {
        validate(app, &|f: &str| format!("apps[0].{f}"))
    }

    #[test]
    fn rules_and_public_collections_are_accepted() {
        let app = app_with(vec![
            collection(
                "posts",
                Some("owner = @request.auth.id || public = true"),
                false,
            ),
            collection("news", None, true),
        ]);
        assert!(check(&app).is_ok());
        assert_eq!(app.realtime_prefix, "velo.realtime.");
        assert!(app.realtime_leaves);
    }

    #[test]
    fn a_collection_without_rule_or_public_is_refused() {
        let err = check(&app_with(vec![collection("posts", None, false)])).unwrap_err();
        assert!(err.to_string().contains("public = true"), "{err}");
    }

    #[test]
    fn a_bad_rule_names_the_collection_and_the_position() {
        let err = check(&app_with(vec![collection(
            "posts",
            Some("owner = "),
            false,
        )]))
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("collections[0].list_rule"), "{text}");
        assert!(text.contains("'posts'"), "{text}");
    }

    #[test]
    fn the_env_form_is_a_json_array() {
        let mut app = AppConfig::with_credentials("1", "k", "s");
        let env = |k: &str| match k {
            "REVERB_APP_COLLECTIONS" => Some(r#"[{"name":"posts","public":true}]"#.to_owned()),
            "REVERB_APP_REALTIME_LEAVES" => Some("false".to_owned()),
            "REVERB_APP_REALTIME_INDEX" => Some("false".to_owned()),
            _ => None,
        };
        assert!(app.realtime_index, "the index is on by default");
        apply_env(&mut app, &env).unwrap();
        assert_eq!(app.collections, [collection("posts", None, true)]);
        assert!(!app.realtime_leaves);
        assert!(!app.realtime_index);
        let bad = |k: &str| (k == "REVERB_APP_COLLECTIONS").then(|| "{".to_owned());
        let err = apply_env(&mut app, &bad).unwrap_err();
        assert_eq!(err.key, "REVERB_APP_COLLECTIONS");
    }

    #[test]
    fn names_must_be_unique_and_make_channel_names() {
        let twice = vec![collection("a", None, true), collection("a", None, true)];
        assert!(check(&app_with(twice)).is_err());
        assert!(check(&app_with(vec![collection("a b", None, true)])).is_err());
    }
}
