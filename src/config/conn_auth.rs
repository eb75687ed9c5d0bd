//! The per-app connection-authentication settings: `connection_auth`, `sanctum_url` and
//! `sanctum_cache_ttl` (TOML `[[apps]]` keys, or `REVERB_APP_CONNECTION_AUTH`,
//! `REVERB_APP_SANCTUM_URL`, `REVERB_APP_SANCTUM_CACHE_TTL`), and their validation.

use serde::Deserialize;

use super::{parse_num, AppConfig, ConfigError};
use crate::proto::auth::TokenKind;
use crate::proto::http::HttpUrl;

/// Which tokens a WebSocket upgrade of the app must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionAuth {
    /// No token needed (the Pusher default).
    #[default]
    None,
    /// An HS256 JWT signed with the app secret.
    Jwt,
    /// A Laravel Sanctum personal access token, checked at `sanctum_url`.
    Sanctum,
    /// Either: a token with two dots is a JWT, anything else a Sanctum token.
    JwtOrSanctum,
}

impl ConnectionAuth {
    /// Whether JWTs are accepted.
    pub fn jwt(self) -> bool {
        matches!(self, ConnectionAuth::Jwt | ConnectionAuth::JwtOrSanctum)
    }

    /// Whether Sanctum tokens are accepted.
    pub fn sanctum(self) -> bool {
        matches!(self, ConnectionAuth::Sanctum | ConnectionAuth::JwtOrSanctum)
    }

    /// Whether `token` is verified as a JWT under this mode (in `jwt_or_sanctum`, a token
    /// with two dots is a JWT; anything else goes to Sanctum).
    pub fn verifies_as_jwt(self, token: &str) -> bool {
        self.jwt() && (TokenKind::of(token) == TokenKind::Jwt || !self.sanctum())
    }

    fn parse(key: &str, v: &str) -> Result<Self, ConfigError> {
        match v.trim().to_ascii_lowercase().as_str() {
            "" | "none" => Ok(ConnectionAuth::None),
            "jwt" => Ok(ConnectionAuth::Jwt),
            "sanctum" => Ok(ConnectionAuth::Sanctum),
            "jwt_or_sanctum" => Ok(ConnectionAuth::JwtOrSanctum),
            _ => Err(ConfigError::new(
                key,
                format!(
                    "'{v}' is not a connection auth mode (none, jwt, sanctum or jwt_or_sanctum)"
                ),
            )),
        }
    }
}

/// Default seconds a Sanctum verdict is cached per shard.
pub fn default_sanctum_cache_ttl() -> u32 {
    60
}

/// Applies the `REVERB_APP_*` connection-auth variables to the env-defined app.
pub fn apply_env(
    app: &mut AppConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    if let Some(v) = env("REVERB_APP_CONNECTION_AUTH") {
        app.connection_auth = ConnectionAuth::parse("REVERB_APP_CONNECTION_AUTH", &v)?;
    }
    if let Some(v) = env("REVERB_APP_SANCTUM_URL").filter(|v| !v.trim().is_empty()) {
        app.sanctum_url = Some(v.trim().to_owned());
    }
    if let Some(v) = env("REVERB_APP_SANCTUM_CACHE_TTL") {
        app.sanctum_cache_ttl = parse_num("REVERB_APP_SANCTUM_CACHE_TTL", &v, "seconds")?;
    }
    Ok(())
}

/// Checks one app's settings; `at` names a field as `apps[i].field`.
pub fn validate(app: &AppConfig, at: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
    match (&app.sanctum_url, app.connection_auth.sanctum()) {
        (None, true) => Err(ConfigError::new(
            at("sanctum_url"),
            "is required when connection_auth is sanctum or jwt_or_sanctum (e.g. http://127.0.0.1:8000/api/user)",
        )),
        (Some(url), _) => HttpUrl::parse(url)
            .map(|_| ())
            .map_err(|e| ConfigError::new(at("sanctum_url"), format!("'{url}' {e}"))),
        (None, false) => Ok(()),
    }?;
    if app.sanctum_cache_ttl > 86_400 {
        return Err(ConfigError::new(
            at("sanctum_cache_ttl"),
            "must be at most 86400 seconds (0 turns the cache off)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> AppConfig {
        AppConfig::with_credentials("1", "k", "s")
    }

    #[test]
    fn env_sets_mode_url_and_ttl() {
        let mut a = app();
        let env = |k: &str| match k {
            "REVERB_APP_CONNECTION_AUTH" => Some("jwt_or_sanctum".to_owned()),
            "REVERB_APP_SANCTUM_URL" => Some("http://127.0.0.1:8000/api/user".to_owned()),
            "REVERB_APP_SANCTUM_CACHE_TTL" => Some("5".to_owned()),
            _ => None,
        };
        apply_env(&mut a, &env).unwrap();
        assert_eq!(a.connection_auth, ConnectionAuth::JwtOrSanctum);
        assert_eq!(a.sanctum_cache_ttl, 5);
        assert!(validate(&a, &|f| f.to_owned()).is_ok());
    }

    #[test]
    fn bad_settings_name_their_key() {
        let mut a = app();
        let env = |k: &str| (k == "REVERB_APP_CONNECTION_AUTH").then(|| "oauth".to_owned());
        let err = apply_env(&mut a, &env).unwrap_err();
        assert_eq!(err.key, "REVERB_APP_CONNECTION_AUTH");
        a.connection_auth = ConnectionAuth::Sanctum;
        let at = |f: &str| format!("apps[0].{f}");
        assert_eq!(validate(&a, &at).unwrap_err().key, "apps[0].sanctum_url");
        a.sanctum_url = Some("https://app/api/user".into());
        let err = validate(&a, &at).unwrap_err();
        assert!(err.to_string().contains("out of scope"), "{err}");
        a.sanctum_url = Some("http://app/api/user".into());
        a.sanctum_cache_ttl = 100_000;
        assert_eq!(
            validate(&a, &at).unwrap_err().key,
            "apps[0].sanctum_cache_ttl"
        );
    }

    #[test]
    fn toml_shape() {
        let a: AppConfig = toml::from_str(
            "id = \"1\"\nkey = \"k\"\nsecret = \"s\"\nconnection_auth = \"sanctum\"\n\
             sanctum_url = \"http://10.0.0.2/api/user\"\n",
        )
        .unwrap();
        assert_eq!(a.connection_auth, ConnectionAuth::Sanctum);
        assert_eq!(a.sanctum_cache_ttl, 60);
    }
}
