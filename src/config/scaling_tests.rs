//! Unit tests of the scaling settings: each form (defaults, separate keys, URL, TOML) and
//! each refusal, with the key it names.

use super::super::tests::env_of;
use super::*;

fn from_env(pairs: &[(&str, &str)]) -> Result<Option<ScalingConfig>, ConfigError> {
    load(FileScaling::default(), &env_of(pairs))
}

fn enabled(pairs: &[(&str, &str)]) -> ScalingConfig {
    let mut all = vec![("REVERB_SCALING_ENABLED", "true")];
    all.extend_from_slice(pairs);
    from_env(&all).unwrap().expect("scaling is enabled")
}

fn refused(pairs: &[(&str, &str)]) -> ConfigError {
    let mut all = vec![("REVERB_SCALING_ENABLED", "true")];
    all.extend_from_slice(pairs);
    from_env(&all).unwrap_err()
}

#[test]
fn off_by_default_and_then_redis_settings_are_not_read() {
    assert_eq!(from_env(&[]).unwrap(), None);
    // A Laravel app may keep a REDIS_URL of its own: a node that does not scale ignores it.
    let off = [
        ("REDIS_URL", "not a url"),
        ("REVERB_SCALING_ENABLED", "false"),
    ];
    assert_eq!(from_env(&off).unwrap(), None);
}

#[test]
fn enabled_with_nothing_else_uses_laravel_defaults() {
    let cfg = enabled(&[]);
    assert_eq!(cfg.channel, "reverb");
    assert_eq!(cfg.key_prefix, "ringcast:");
    let r = &cfg.redis;
    assert_eq!(
        (r.host.as_str(), r.port, r.db, r.tls),
        ("127.0.0.1", 6379, 0, false)
    );
    assert_eq!((r.username.as_deref(), r.password.as_deref()), (None, None));
}

#[test]
fn separate_keys_and_laravel_null_password() {
    let cfg = enabled(&[
        ("REVERB_SCALING_CHANNEL", "cluster-a"),
        ("REDIS_HOST", "redis.internal"),
        ("REDIS_PORT", "6380"),
        ("REDIS_USERNAME", "ringcast"),
        ("REDIS_PASSWORD", "s3cret"),
        ("REDIS_DB", "3"),
    ]);
    assert_eq!(cfg.channel, "cluster-a");
    let r = &cfg.redis;
    assert_eq!(r.address(), "redis.internal:6380");
    assert_eq!(r.username.as_deref(), Some("ringcast"));
    assert_eq!(r.password.as_deref(), Some("s3cret"));
    assert_eq!(r.db, 3);
    assert_eq!(enabled(&[("REDIS_PASSWORD", "null")]).redis.password, None);
}

#[test]
fn url_with_credentials_and_database() {
    let r = enabled(&[("REDIS_URL", "redis://app:p%40ss%3Aw@10.0.0.5:7000/2")]).redis;
    assert_eq!(r.address(), "10.0.0.5:7000");
    assert_eq!(r.username.as_deref(), Some("app"));
    assert_eq!(r.password.as_deref(), Some("p@ss:w"));
    assert_eq!((r.db, r.tls), (2, false));
}

#[test]
fn rediss_url_password_only_and_ipv6() {
    let r = enabled(&[("REDIS_URL", "rediss://:pw@[::1]:6390")]).redis;
    assert!(r.tls);
    assert_eq!(r.tls_ca, None, "the system bundle");
    let ca = enabled(&[
        ("REDIS_URL", "rediss://h"),
        ("RINGCAST_REDIS_CA", "/etc/r/ca.pem"),
    ]);
    assert_eq!(ca.redis.tls_ca, Some("/etc/r/ca.pem".into()));
    assert_eq!(r.address(), "[::1]:6390");
    assert_eq!((r.username, r.password.as_deref()), (None, Some("pw")));
    assert_eq!(r.db, 0);
}

#[test]
fn url_parts_win_over_separate_keys_and_fill_from_them() {
    let r = enabled(&[
        ("REDIS_URL", "redis://cache.local"),
        ("REDIS_HOST", "ignored"),
        ("REDIS_PORT", "6400"),
        ("REDIS_PASSWORD", "from-key"),
    ])
    .redis;
    assert_eq!(r.address(), "cache.local:6400");
    assert_eq!(r.password.as_deref(), Some("from-key"));
}

#[test]
fn toml_scaling_table_with_env_overriding_it() {
    let file: FileScaling = toml::from_str(
        r#"
        enabled = true
        channel = "nodes"
        key_prefix = "rc:prod:"
        host = "10.1.1.1"
        port = 6001
        password = "file-pw"
        db = 1
        "#,
    )
    .unwrap();
    let env = env_of(&[("REDIS_PORT", "6002")]);
    let cfg = load(file, &env).unwrap().unwrap();
    assert_eq!(
        (cfg.channel.as_str(), cfg.key_prefix.as_str()),
        ("nodes", "rc:prod:")
    );
    assert_eq!(cfg.redis.address(), "10.1.1.1:6002");
    assert_eq!(
        (cfg.redis.password.as_deref(), cfg.redis.db),
        (Some("file-pw"), 1)
    );
}

#[test]
fn toml_url_error_names_the_toml_key() {
    let file: FileScaling = toml::from_str("enabled = true\nurl = \"http://x\"").unwrap();
    let err = load(file, &env_of(&[])).unwrap_err();
    assert_eq!(err.key, "scaling.url");
    assert!(err.message.contains("redis://"), "{err}");
}

/// An environment, the key its error must name, and a phrase the message must hold.
type Case = (
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static str,
);

#[test]
fn each_bad_value_names_its_key_and_what_to_write() {
    let cases: &[Case] = &[
        (
            &[("REVERB_SCALING_ENABLED", "maybe")],
            "REVERB_SCALING_ENABLED",
            "boolean",
        ),
        (&[("REDIS_PORT", "sixty")], "REDIS_PORT", "port number"),
        (&[("REDIS_PORT", "0")], "REDIS_PORT", "1-65535"),
        (&[("REDIS_DB", "-1")], "REDIS_DB", "database number"),
        (&[("REDIS_URL", "tcp://h:1")], "REDIS_URL", "scheme"),
        (
            &[("REDIS_URL", "redis://h:port")],
            "REDIS_URL",
            "port number",
        ),
        (
            &[("REDIS_URL", "redis://h/zero")],
            "REDIS_URL",
            "database number",
        ),
        (&[("REDIS_URL", "redis://[::1")], "REDIS_URL", "malformed"),
        (
            &[("REDIS_URL", "redis://:p@/0")],
            "REDIS_URL",
            "host is missing",
        ),
        (&[("REDIS_URL", "redis://h?db=1")], "REDIS_URL", "query"),
        (&[("REDIS_URL", "redis://u:%zz@h")], "REDIS_URL", "%-escape"),
        (
            &[("REVERB_SCALING_CHANNEL", "a b ")],
            "REVERB_SCALING_CHANNEL",
            "spaces",
        ),
    ];
    for (env, key, says) in cases {
        let err = if env[0].0 == "REVERB_SCALING_ENABLED" {
            from_env(env).unwrap_err()
        } else {
            refused(env)
        };
        assert_eq!(err.key, *key, "{env:?}: {err}");
        assert!(err.message.contains(says), "{env:?}: {err}");
    }
}

#[test]
fn debug_output_hides_the_password() {
    let r = enabled(&[("REDIS_PASSWORD", "hunter2")]).redis;
    let shown = format!("{r:?}");
    assert!(
        !shown.contains("hunter2") && shown.contains("<set>"),
        "{shown}"
    );
}

/// Every byte outside `[A-Za-z0-9]` as `%XX`, as a URL writer would escape a password.
fn escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

proptest::proptest! {
    #[test]
    fn urls_round_trip_through_the_parser(
        user in "\\PC{0,12}", password in "\\PC{1,24}", host in "[a-z][a-z0-9.-]{0,20}",
        port in 1u16.., db in 0u32..10_000, tls in proptest::bool::ANY,
    ) {
        let scheme = if tls { "rediss" } else { "redis" };
        let url = format!("{scheme}://{}:{}@{host}:{port}/{db}", escape(&user), escape(&password));
        let r = enabled(&[("REDIS_URL", &url)]).redis;
        proptest::prop_assert_eq!(r.username, (!user.is_empty()).then_some(user));
        proptest::prop_assert_eq!(r.password, Some(password));
        proptest::prop_assert_eq!((r.host, r.port, r.db, r.tls), (host, port, db, tls));
    }
}
