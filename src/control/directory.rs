//! The control core's in-memory view of every endpoint: routes per app for matching published
//! events, and endpoints by id for the delivery loop.
//!
//! Reloaded from the store whenever an endpoint changes, so matching a publish costs no SQL.
//! It is only a cache: the store stays the truth, and nothing here is written back.

use std::collections::HashMap;

use crate::store::{Endpoint, EndpointStore, StoreError};
use crate::webhook::route::Route;

/// Endpoints as loaded at the last change.
#[derive(Default)]
pub struct Directory {
    routes: HashMap<String, Vec<Route>>,
    by_id: HashMap<String, Endpoint>,
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
            dir.by_id.insert(ep.id.clone(), ep);
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
            .filter_map(|r| self.by_id.get(&r.endpoint_id))
    }

    /// One endpoint by id.
    pub fn get(&self, id: &str) -> Option<&Endpoint> {
        self.by_id.get(id)
    }
}
