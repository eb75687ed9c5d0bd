//! Which endpoints receive a published event: active, an event pattern matches the name, and,
//! for a tenant endpoint, at least one of the event's channels belongs to the tenant.
//!
//! Owns the decision only, on patterns parsed once when an endpoint is loaded. It never builds
//! bodies, never stores anything and knows nothing of the store's records.

use super::error::WebhookError;
use super::pattern::{any_matches, channel_in_tenant, parse_patterns, Pattern};

/// An endpoint as routing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The endpoint.
    pub endpoint_id: String,
    patterns: Vec<Pattern>,
    tenant: Option<String>,
    active: bool,
}

impl Route {
    /// Parses the endpoint's patterns once.
    pub fn new<S: AsRef<str>>(
        endpoint_id: &str,
        events: &[S],
        tenant: Option<&str>,
        active: bool,
    ) -> Result<Route, WebhookError> {
        Ok(Route {
            endpoint_id: endpoint_id.to_owned(),
            patterns: parse_patterns(events)?,
            tenant: tenant.map(str::to_owned),
            active,
        })
    }

    /// Whether an event named `event` published on `channels` goes to this endpoint.
    pub fn wants(&self, event: &str, channels: &[String]) -> bool {
        self.active
            && any_matches(&self.patterns, event)
            && self
                .tenant
                .as_deref()
                .map_or(true, |t| channels.iter().any(|c| channel_in_tenant(c, t)))
    }
}

/// The routes that receive the event, in the given order.
pub fn matching<'a>(
    routes: &'a [Route],
    event: &'a str,
    channels: &'a [String],
) -> impl Iterator<Item = &'a Route> + 'a {
    routes.iter().filter(move |r| r.wants(event, channels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chans(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn patterns_tenants_and_activity_decide_together() {
        let routes = vec![
            Route::new("all", &["*"], None, true).unwrap(),
            Route::new("orders", &["order.*"], None, true).unwrap(),
            Route::new("acme", &["order.paid"], Some("acme"), true).unwrap(),
            Route::new("off", &["*"], None, false).unwrap(),
        ];
        let ids = |event, channels: &[&str]| {
            let channels = chans(channels);
            matching(&routes, event, &channels)
                .map(|r| r.endpoint_id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids("order.paid", &["private-tenant.acme.orders"]),
            ["all", "orders", "acme"]
        );
        assert_eq!(
            ids("order.paid", &["tenant.other", "news"]),
            ["all", "orders"]
        );
        assert_eq!(
            ids("order.paid", &["news", "presence-tenant.acme"]),
            ["all", "orders", "acme"],
            "one tenant channel among several is enough"
        );
        assert_eq!(ids("user.signup", &["tenant.acme"]), ["all"]);
        assert!(Route::new("bad", &["a..b"], None, true).is_err());
    }
}
