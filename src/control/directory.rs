//! The control core's in-memory view of every endpoint: routes per app for matching published
//! events, and endpoints by id for the delivery loop.
//!
//! Reloaded from the store whenever an endpoint changes, so matching a publish costs no SQL.
//! It is only a cache: the store stays the truth, and nothing here is written back.

use std::collections::HashMap;
use std::rc::Rc;

use crate::store::{Endpoint, EndpointStore, StoreError};
use crate::webhook::body::kinds_mask;
use crate::webhook::endpoint::Format;
use crate::webhook::route::Route;

/// Endpoints as loaded at the last change.
#[derive(Default)]
pub struct Directory {
    routes: HashMap<String, Vec<Route>>,
    /// Shared with the attempts in flight, which hold one without copying it.
    by_id: HashMap<String, Rc<Endpoint>>,
}

impl Directory {
    /// Reads every endpoint from `store`. An endpoint whose stored patterns no longer parse is
    /// logged and left out (it was validated when written).
    pub async fn load<S: EndpointStore>(store: &S) -> Result<Directory, StoreError> {
        let mut dir = Directory::default();
        for ep in store.all_endpoints().await? {
            match Route::new(&ep.id, &ep.events, ep.tenant_id.as_deref(), ep.is_active) {
                Ok(route) => dir.routes.entry(ep.app_id.clone()).or_default().push(route),
                Err(e) => tracing::error!(endpoint = %ep.id, error = %e, "endpoint skipped"),
            }
            dir.by_id.insert(ep.id.clone(), Rc::new(ep));
        }
        Ok(dir)
    }

    /// The endpoints of `app_id` that receive `event` published on `channels`.
    pub fn matching<'a>(
        &'a self,
        app_id: &str,
        event: &'a str,
        channels: &'a [String],
    ) -> impl Iterator<Item = &'a Endpoint> + 'a {
        let routes = self.routes.get(app_id).map_or(&[][..], Vec::as_slice);
        crate::webhook::route::matching(routes, event, channels)
            .filter_map(|r| self.by_id.get(&r.endpoint_id).map(Rc::as_ref))
    }

    /// The routes of `app_id`'s active standard-format endpoints: what the REST publish path
    /// checks before it waits for the control core to record deliveries.
    pub fn event_routes(&self, app_id: &str) -> Vec<Route> {
        let routes = self.routes.get(app_id).map_or(&[][..], Vec::as_slice);
        let standard = |r: &&Route| {
            self.by_id
                .get(&r.endpoint_id)
                .is_some_and(|ep| ep.is_active && ep.format == Format::Standard)
        };
        routes.iter().filter(standard).cloned().collect()
    }

    /// Whether `app_id` has an active endpoint that receives published events.
    pub fn receives_events(&self, app_id: &str) -> bool {
        self.routes.get(app_id).is_some_and(|routes| {
            routes.iter().any(|r| {
                self.by_id
                    .get(&r.endpoint_id)
                    .is_some_and(|ep| ep.is_active && ep.format == Format::Standard)
            })
        })
    }

    /// The channel webhook event types (a [`kinds_mask`]) that the active pusher-format
    /// endpoints of `app_id` receive; 0 when it has none.
    pub fn channel_event_mask(&self, app_id: &str) -> u16 {
        self.by_id
            .values()
            .filter(|ep| ep.app_id == app_id && ep.is_active && ep.format == Format::Pusher)
            .fold(0, |mask, ep| mask | kinds_mask(&ep.events))
    }

    /// One endpoint by id.
    pub fn get(&self, id: &str) -> Option<&Rc<Endpoint>> {
        self.by_id.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewEndpoint, SqliteStore};
    use crate::webhook::body::kind_bit;
    use crate::webhook::endpoint::EndpointSpec;

    fn new(id: &str, app: &str, events: &[&str], format: Format, active: bool) -> NewEndpoint {
        NewEndpoint {
            id: id.into(),
            app_id: app.into(),
            spec: EndpointSpec {
                name: id.into(),
                url: "http://127.0.0.1:9/".into(),
                events: events.iter().map(|e| (*e).to_owned()).collect(),
                tenant_id: None,
                is_active: active,
                max_retries: 1,
                retry_delays: vec![1],
                secret: None,
                headers: Default::default(),
                rate_limit_per_s: None,
                format,
            },
            secret: "whsec_x".into(),
            now_ms: 1,
        }
    }

    #[test]
    fn matches_active_endpoints_of_the_app_and_flags_apps_with_business_endpoints() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(tmp.path()).unwrap();
        let dir = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()
            .unwrap()
            .block_on(async {
                for ep in [
                    new("a1", "a", &["order.*"], Format::Standard, true),
                    new("a2", "a", &["*"], Format::Standard, false),
                    new("b1", "b", &["channel_occupied"], Format::Pusher, true),
                ] {
                    store.create_endpoint(ep).await.unwrap();
                }
                Directory::load(&store).await.unwrap()
            });
        let chans = ["orders".to_owned()];
        let ids: Vec<&str> = dir
            .matching("a", "order.paid", &chans)
            .map(|e| e.id.as_str())
            .collect();
        assert_eq!(ids, ["a1"]);
        assert_eq!(dir.matching("a", "user.new", &chans).count(), 0);
        assert!(dir.receives_events("a"));
        assert!(
            !dir.receives_events("b"),
            "pusher-format endpoints get no business events"
        );
        assert!(!dir.receives_events("c"));
        let routes = dir.event_routes("a");
        assert_eq!(routes.len(), 1, "the inactive one is left out");
        assert!(routes[0].wants("order.paid", &chans));
        assert!(dir.event_routes("b").is_empty(), "pusher format");
        assert_eq!(dir.channel_event_mask("b"), kind_bit("channel_occupied"));
        assert_eq!(
            dir.channel_event_mask("a"),
            0,
            "business endpoints get no channel events"
        );
        assert_eq!(dir.get("b1").map(|e| e.format), Some(Format::Pusher));
    }
}
