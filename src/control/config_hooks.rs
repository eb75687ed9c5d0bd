//! Config-file Pusher channel webhooks (`[[apps]] webhooks`, `REVERB_APP_WEBHOOKS`) made
//! durable: at start every configured receiver gets one pusher-format endpoint row in the
//! store, so its batches are recorded as deliveries and sent, retried and resumed after a
//! restart by the engine of `deliver`, exactly like an API-created `"format": "pusher"`
//! endpoint.
//!
//! The row's id is derived from what identifies the receiver (app id, URL, event types and
//! channel filter), so the same entry keeps its row, and its pending deliveries, across
//! restarts. The `cfg_` prefix marks the row as owned by the config: the API shows it but
//! refuses to change or delete it, and [`sync`] removes the rows whose entry is gone.

use sha2::{Digest, Sha256};

use crate::config::{AppConfig, PusherWebhookConfig};
use crate::store::{EndpointStore, NewEndpoint, StoreError};
use crate::webhook::endpoint::{EndpointPatch, EndpointSpec, Format};
use crate::webhook::signing::generate_secret;

/// The id prefix of endpoints that come from the config file.
pub const CONFIG_PREFIX: &str = "cfg_";

/// Whether endpoint `id` comes from the config file (and so is read-only through the API).
pub fn is_config_id(id: &str) -> bool {
    id.starts_with(CONFIG_PREFIX)
}

/// The stable endpoint id of receiver `hook` of app `app_id`: `cfg_` and 24 hex digits of a
/// SHA-256 over the fields that identify it. A changed URL, event list or filter is another
/// receiver, with another id.
pub fn config_endpoint_id(app_id: &str, hook: &PusherWebhookConfig) -> String {
    let mut h = Sha256::new();
    let filter = hook.filter.clone().unwrap_or_default();
    let fields = [
        app_id,
        hook.url.as_str(),
        &hook.event_types.join(","),
        filter.channel_name_starts_with.as_deref().unwrap_or(""),
        filter.channel_name_ends_with.as_deref().unwrap_or(""),
    ];
    for field in fields {
        // Length-prefixed, so no two field lists hash the same bytes.
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    let digest = hex::encode(h.finalize());
    format!("{CONFIG_PREFIX}{}", &digest[..24])
}

/// Makes the store's config-owned endpoints match `apps`: creates the missing rows, resets the
/// kept ones to the Pusher schedule and active (a config entry is on as long as it is listed,
/// even after a 410), and deletes the rows whose entry was removed or changed.
pub async fn sync<S: EndpointStore>(
    store: &S,
    apps: &[AppConfig],
    now_ms: i64,
) -> Result<(), StoreError> {
    let mut wanted = Vec::new();
    for app in apps {
        for hook in &app.webhooks {
            let id = config_endpoint_id(&app.id, hook);
            if !wanted.iter().any(|(w, _, _): &(String, _, _)| *w == id) {
                wanted.push((id, app.id.as_str(), hook));
            }
        }
    }
    let existing = store.all_endpoints().await?;
    for ep in existing.iter().filter(|ep| is_config_id(&ep.id)) {
        if !wanted.iter().any(|(id, _, _)| *id == ep.id) {
            store.delete_endpoint(&ep.app_id, &ep.id).await?;
            tracing::info!(endpoint = %ep.id, url = %ep.url, "config webhook removed");
        }
    }
    for (id, app_id, hook) in wanted {
        if existing.iter().any(|ep| ep.id == id) {
            let (max_retries, delays) = schedule(hook);
            let patch = EndpointPatch {
                is_active: Some(true),
                max_retries: Some(max_retries),
                retry_delays: Some(delays),
                ..Default::default()
            };
            store.update_endpoint(app_id, &id, &patch, now_ms).await?;
            continue;
        }
        let secret = generate_secret().map_err(|e| StoreError::Backend(e.to_string()))?;
        let new = NewEndpoint {
            id,
            app_id: app_id.to_owned(),
            spec: spec_of(hook),
            secret,
            now_ms,
        };
        store.create_endpoint(new).await?;
    }
    Ok(())
}

/// The receiver's retries and their delays: its `retry_delays`, else Pusher's schedule.
fn schedule(hook: &PusherWebhookConfig) -> (u32, Vec<u32>) {
    match &hook.retry_delays {
        Some(delays) => (delays.len() as u32, delays.clone()),
        None => (
            Format::Pusher.default_max_retries(),
            Format::Pusher.default_retry_delays(),
        ),
    }
}

/// The endpoint settings of a config-file receiver. Its channel filter is not stored: the
/// batching of `pusher_hooks` applies it from the config.
fn spec_of(hook: &PusherWebhookConfig) -> EndpointSpec {
    let (max_retries, retry_delays) = schedule(hook);
    EndpointSpec {
        name: format!("config: {}", hook.url),
        url: hook.url.clone(),
        events: hook.event_types.clone(),
        tenant_id: None,
        is_active: true,
        max_retries,
        retry_delays,
        secret: None,
        headers: Default::default(),
        rate_limit_per_s: None,
        format: Format::Pusher,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract::block_on;
    use crate::store::SqliteStore;

    fn hook(url: &str, types: &[&str]) -> PusherWebhookConfig {
        PusherWebhookConfig {
            url: url.into(),
            event_types: types.iter().map(|t| (*t).to_owned()).collect(),
            filter: None,
            retry_delays: None,
        }
    }

    fn app(id: &str, hooks: Vec<PusherWebhookConfig>) -> AppConfig {
        let mut app = AppConfig::with_credentials(id, "key", "secret");
        app.webhooks = hooks;
        app
    }

    #[test]
    fn ids_are_stable_and_differ_by_app_url_types_and_filter() {
        let a = hook("http://127.0.0.1:9/a", &["channel_occupied"]);
        let id = config_endpoint_id("1", &a);
        assert!(is_config_id(&id) && id.len() == CONFIG_PREFIX.len() + 24);
        assert_eq!(id, config_endpoint_id("1", &a.clone()));
        assert_ne!(id, config_endpoint_id("2", &a));
        let mut other = a.clone();
        other.url.push('x');
        assert_ne!(id, config_endpoint_id("1", &other));
        let mut other = a.clone();
        other.event_types.push("channel_vacated".into());
        assert_ne!(id, config_endpoint_id("1", &other));
        let mut other = a;
        other.filter = Some(crate::config::ChannelFilter {
            channel_name_starts_with: Some("presence-".into()),
            channel_name_ends_with: None,
        });
        assert_ne!(id, config_endpoint_id("1", &other));
        assert!(!is_config_id("ep_0123"));
    }

    #[test]
    fn sync_creates_keeps_reactivates_and_removes_config_rows_only() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(tmp.path()).unwrap();
        let (keep, gone) = (
            hook("http://127.0.0.1:9/keep", &["channel_occupied"]),
            hook("http://127.0.0.1:9/gone", &["member_added"]),
        );
        let (keep_id, gone_id) = (
            config_endpoint_id("1", &keep),
            config_endpoint_id("1", &gone),
        );
        block_on(async {
            let apps = [app("1", vec![keep.clone(), gone.clone()])];
            sync(&store, &apps, 1).await.unwrap();
            let first = store.get_endpoint("1", &keep_id).await.unwrap();
            assert_eq!(first.format, Format::Pusher);
            assert_eq!(first.events, ["channel_occupied"]);
            assert_eq!(first.max_retries, Format::Pusher.default_max_retries());
            // An API endpoint of the same app is not the config's to touch.
            let mut api = spec_of(&gone);
            api.name = "api".into();
            let new = NewEndpoint {
                id: "ep_api".into(),
                app_id: "1".into(),
                spec: api,
                secret: "whsec_x".into(),
                now_ms: 1,
            };
            store.create_endpoint(new).await.unwrap();
            let off = EndpointPatch {
                is_active: Some(false),
                ..Default::default()
            };
            store.update_endpoint("1", &keep_id, &off, 2).await.unwrap();

            let mut faster = keep.clone();
            faster.retry_delays = Some(vec![1, 2]);
            sync(&store, &[app("1", vec![faster])], 3).await.unwrap();
            let kept = store.get_endpoint("1", &keep_id).await.unwrap();
            assert!(kept.is_active, "a listed entry is active again");
            assert_eq!((kept.max_retries, kept.retry_delays), (2, vec![1, 2]));
            assert_eq!(kept.secret, first.secret, "the row is kept, not recreated");
            assert!(matches!(
                store.get_endpoint("1", &gone_id).await,
                Err(StoreError::NotFound { .. })
            ));
            assert!(store.get_endpoint("1", "ep_api").await.is_ok());
        });
    }
}
