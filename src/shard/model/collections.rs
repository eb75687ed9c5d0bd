//! One core's filtered collection subscriptions: each app's parsed list rules, per
//! collection the compiled filters of this core's connections, and the routes: a copy of the
//! other cores' active filters, so that the core that ingests a change evaluates every filter
//! once and sends each other core only the deliveries it found there.
//!
//! A registration is keyed by the connection's slab key. It is *active* once the connection
//! has subscribed to the collection's channel; only active registrations receive changes (a
//! registered socket that never subscribed would not expect the events). Every change to this
//! core's active filters comes back as an [`Announcement`] for the shell to send to the other
//! cores, which [`apply`](Collections::apply) it to their routes. A core numbers its
//! registrations, so a routed delivery names the registration it was evaluated against, and
//! the receiving core delivers it only if that is still the connection's filter (else it
//! evaluates the current one: a stale copy never decides what a subscriber receives). Pure:
//! no monoio, no `Shard`; the shell adds, activates and removes, and asks for deliveries and
//! routes.

use std::collections::HashMap;

use serde_json::Value;

use super::registered::{Registered, Sub};
use crate::config::AppConfig;
use crate::proto::api::realtime::{RealtimeError, MAX_FILTERS_PER_CONNECTION};
use crate::proto::filter::{self, Change, CompiledFilter, Delivery, Expr};
use crate::ring::MAX_CORES;

/// Every app's collections on one core.
pub struct Collections {
    apps: Vec<AppCollections>,
    /// The number the next registration gets.
    next_gen: u64,
}

struct AppCollections {
    /// Who may read each collection.
    rules: HashMap<Box<str>, Access>,
    leaves: bool,
    /// `false`: every active subscriber is evaluated on every change (a benchmark baseline).
    index: bool,
    /// This core's registrations, by connection key.
    subs: HashMap<Box<str>, Registered>,
    /// The other cores' active filters, by [`route_handle`].
    routes: HashMap<Box<str>, Registered>,
    /// Filtered subscriptions per connection, for the per-connection limit.
    per_conn: HashMap<usize, usize>,
}

/// A collection's list rule, parsed.
enum Access {
    Rule(Expr),
    Public,
    /// No usable rule and not public: the configuration check refuses this at startup, so it
    /// is only a guard that such a collection is never served open.
    Refused,
}

/// What the other cores must learn when one of this core's active filters changes, to route
/// changes here.
#[derive(Debug, Clone, PartialEq)]
pub enum Announcement {
    /// `conn`'s filter on `collection` receives changes from now on (a new one, or one that
    /// replaces its earlier filter). Detached: it reads its record itself.
    Put {
        collection: Box<str>,
        conn: usize,
        gen: u64,
        filter: CompiledFilter,
    },
    /// `conn`'s filter on `collection` receives no more changes.
    Drop { collection: Box<str>, conn: usize },
}

/// The handle of `core`'s connection `conn` among the routes: both fit, as `conn` is a slab
/// key far below `usize::MAX / 64` and a mesh has at most 64 cores.
fn route_handle(core: usize, conn: usize) -> usize {
    conn * MAX_CORES + core
}

/// The core and the connection key a [`route_handle`] was made of.
fn route_parts(handle: usize) -> (usize, usize) {
    (handle % MAX_CORES, handle / MAX_CORES)
}

/// A delivery to another core's subscriber, as this core's routes evaluated it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routed {
    /// The subscriber's core.
    pub core: usize,
    /// The subscriber's connection key there.
    pub conn: usize,
    /// The registration it was evaluated against.
    pub gen: u64,
    /// What it receives.
    pub delivery: Delivery,
}

impl Collections {
    /// The collections of `apps`, their rules parsed (validated at startup, so a rule that
    /// fails here cannot happen; it would serve the collection as unreadable, never as open).
    pub fn new(apps: &[AppConfig]) -> Self {
        let apps = apps
            .iter()
            .map(|app| AppCollections {
                rules: app
                    .collections
                    .iter()
                    .map(|c| {
                        let access = match (&c.list_rule, c.public) {
                            (Some(r), _) => filter::parse(r).map_or(Access::Refused, Access::Rule),
                            (None, true) => Access::Public,
                            (None, false) => Access::Refused,
                        };
                        (c.name.as_str().into(), access)
                    })
                    .collect(),
                leaves: app.realtime_leaves,
                index: app.realtime_index,
                subs: HashMap::new(),
                routes: HashMap::new(),
                per_conn: HashMap::new(),
            })
            .collect();
        Collections { apps, next_gen: 0 }
    }

    /// Registers connection `conn`'s `filter` on `collection` under the collection's rule and
    /// the connection's `claims`, replacing an earlier filter of the same connection there
    /// (announced when that one was active).
    pub fn register(
        &mut self,
        app: usize,
        collection: &str,
        conn: usize,
        filter: Option<&str>,
        claims: &Value,
    ) -> Result<Option<Announcement>, RealtimeError> {
        let a = &mut self.apps[app];
        let rule = match a.rules.get(collection) {
            None => return Err(RealtimeError::UnknownCollection(collection.to_owned())),
            Some(Access::Refused) => return Err(RealtimeError::NotServed(collection.to_owned())),
            Some(Access::Rule(rule)) => Some(rule),
            Some(Access::Public) => None,
        };
        let parsed = match filter.filter(|f| !f.trim().is_empty()) {
            Some(text) => Some(filter::parse(text).map_err(RealtimeError::Filter)?),
            None => None,
        };
        let compiled = CompiledFilter::new(rule, parsed.as_ref(), claims);
        let registered = a.subs.entry(collection.into()).or_default();
        let count = a.per_conn.entry(conn).or_default();
        let replacing = registered.contains(conn);
        if !replacing && *count >= MAX_FILTERS_PER_CONNECTION {
            return Err(RealtimeError::TooManyFilters);
        }
        registered.put(conn, compiled, false, self.next_gen);
        self.next_gen += 1;
        *count += usize::from(!replacing);
        Ok(registered
            .get_mut(conn)
            .filter(|sub| sub.active)
            .map(|sub| put(collection, sub)))
    }

    /// The connection subscribed to (`on`) or left the collection's channel. Leaving drops the
    /// registration.
    pub fn set_active(
        &mut self,
        app: usize,
        collection: &str,
        conn: usize,
        on: bool,
    ) -> Option<Announcement> {
        let a = &mut self.apps[app];
        let registered = a.subs.get_mut(collection)?;
        if on {
            let sub = registered.get_mut(conn).filter(|sub| !sub.active)?;
            sub.active = true;
            return Some(put(collection, sub));
        }
        let sub = registered.remove(conn)?;
        uncount(&mut a.per_conn, conn);
        dropped(collection, &sub)
    }

    /// Drops every registration of a closed connection; the active ones are announced.
    pub fn remove_conn(&mut self, app: usize, conn: usize) -> Vec<Announcement> {
        let a = &mut self.apps[app];
        if a.per_conn.remove(&conn).is_none() {
            return Vec::new();
        }
        a.subs
            .iter_mut()
            .filter_map(|(collection, registered)| dropped(collection, &registered.remove(conn)?))
            .collect()
    }

    /// Another core's announcement, taken into this core's routes.
    pub fn apply(&mut self, app: usize, core: usize, announcement: &Announcement) {
        let routes = &mut self.apps[app].routes;
        match announcement {
            Announcement::Put {
                collection,
                conn,
                gen,
                filter,
            } => routes.entry(collection.clone()).or_default().put(
                route_handle(core, *conn),
                filter.clone(),
                true,
                *gen,
            ),
            Announcement::Drop { collection, conn } => {
                if let Some(registered) = routes.get_mut(collection) {
                    registered.remove(route_handle(core, *conn));
                }
            }
        }
    }

    /// Calls `found` with every delivery of `change` to the other cores' subscribers, as
    /// this core's routes evaluate them. False when the app turned the index off: the naive
    /// baseline sends every change to every core with subscribers, to be evaluated there.
    pub fn route(
        &self,
        app: usize,
        collection: &str,
        change: &Change<'_>,
        mut found: impl FnMut(Routed),
    ) -> bool {
        let a = &self.apps[app];
        if !a.index {
            return false;
        }
        if let Some(routes) = a.routes.get(collection) {
            routes.deliveries(change, a.leaves, true, |sub, delivery| {
                let (core, conn) = route_parts(sub.handle);
                found(Routed {
                    core,
                    conn,
                    gen: sub.gen,
                    delivery,
                })
            });
        }
        true
    }

    /// What connection `conn` of this core receives of a delivery another core routed here
    /// (evaluated against registration `gen`): that delivery while `gen` is still its active
    /// filter on `collection`, else what its filter now gives for `change`.
    pub fn confirm(
        &self,
        app: usize,
        collection: &str,
        routed: &Routed,
        change: &Change<'_>,
    ) -> Option<Delivery> {
        let a = &self.apps[app];
        let sub = a.subs.get(collection)?.get(routed.conn)?;
        match (sub.active, sub.gen == routed.gen) {
            (false, _) => None,
            (true, true) => Some(routed.delivery),
            (true, false) => filter::delivery(&sub.filter, change, a.leaves),
        }
    }

    /// Calls `send` for each active subscriber of `collection` on this core that receives
    /// something for `change`, with what it receives. Only the index's candidates are
    /// evaluated, unless the app turned the index off (then every subscriber is).
    pub fn deliveries(
        &self,
        app: usize,
        collection: &str,
        change: &Change<'_>,
        mut send: impl FnMut(usize, Delivery),
    ) {
        let a = &self.apps[app];
        if let Some(registered) = a.subs.get(collection) {
            registered.deliveries(change, a.leaves, a.index, |sub, d| send(sub.handle, d));
        }
    }
}

/// The announcement that `sub`, just removed from `collection`, receives no more changes;
/// none if it was not active (the other cores never learned of it).
fn dropped(collection: &str, sub: &Sub) -> Option<Announcement> {
    sub.active.then(|| Announcement::Drop {
        collection: collection.into(),
        conn: sub.handle,
    })
}

/// The announcement of `sub`'s filter on `collection`, taking effect now.
fn put(collection: &str, sub: &Sub) -> Announcement {
    Announcement::Put {
        collection: collection.into(),
        conn: sub.handle,
        gen: sub.gen,
        filter: sub.filter.detached(),
    }
}

fn uncount(per_conn: &mut HashMap<usize, usize>, conn: usize) {
    if let Some(n) = per_conn.get_mut(&conn) {
        *n -= 1;
        if *n == 0 {
            per_conn.remove(&conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::CollectionConfig;
    use crate::proto::filter::Action;

    fn collections() -> Collections {
        let mut app = AppConfig::with_credentials("1", "k", "s");
        app.collections = vec![
            CollectionConfig {
                name: "posts".into(),
                list_rule: Some("owner = @request.auth.id || public = true".into()),
                public: false,
            },
            CollectionConfig {
                name: "news".into(),
                list_rule: None,
                public: true,
            },
        ];
        Collections::new(&[app])
    }

    fn who(
        c: &Collections,
        collection: &str,
        action: Action,
        record: Value,
    ) -> Vec<(usize, Delivery)> {
        let mut got = Vec::new();
        let change = Change {
            action,
            record: &record,
            previous: None,
        };
        c.deliveries(0, collection, &change, |conn, d| got.push((conn, d)));
        got.sort_by_key(|(conn, _)| *conn);
        got
    }

    #[test]
    fn the_rule_and_the_filter_decide_and_only_active_subscribers_receive() {
        let mut c = collections();
        let alice = json!({"sub": "alice"});
        c.register(0, "posts", 1, Some("status = 'active'"), &alice)
            .unwrap();
        c.register(0, "posts", 2, None, &json!({"sub": "bob"}))
            .unwrap();
        let record = json!({"owner": "alice", "status": "active", "public": false});
        assert!(
            who(&c, "posts", Action::Created, record.clone()).is_empty(),
            "not subscribed yet"
        );
        c.set_active(0, "posts", 1, true);
        c.set_active(0, "posts", 2, true);
        assert_eq!(
            who(&c, "posts", Action::Created, record),
            [(1, Delivery::Created)]
        );
        let public = json!({"owner": "carol", "status": "active", "public": true});
        assert_eq!(who(&c, "posts", Action::Created, public).len(), 2);
    }

    #[test]
    fn without_the_index_every_subscriber_is_evaluated_with_the_same_outcome() {
        let registered = |index: bool| {
            let mut c = collections();
            c.apps[0].index = index;
            let filters = ["owner = 'a'", "n > 3", "", "owner = 'b' || n = 1"];
            for (conn, filter) in filters.iter().enumerate() {
                c.register(0, "news", conn, Some(filter), &Value::Null)
                    .unwrap();
                c.set_active(0, "news", conn, true);
            }
            c
        };
        let (indexed, scanned) = (registered(true), registered(false));
        for record in [
            json!({"owner": "a", "n": 1}),
            json!({"owner": "b", "n": 5}),
            json!({"owner": "c", "n": 0}),
        ] {
            let got = who(&indexed, "news", Action::Created, record.clone());
            assert_eq!(got, who(&scanned, "news", Action::Created, record));
        }
        let all = who(
            &scanned,
            "news",
            Action::Created,
            json!({"owner": "a", "n": 1}),
        );
        assert_eq!(
            all.len(),
            3,
            "owner = 'a', the empty filter and n = 1: {all:?}"
        );
    }

    #[test]
    fn scanned_filters_paths_are_interned_while_registered() {
        let mut c = collections();
        let paths = |c: &Collections| c.apps[0].subs["news"].interned_paths();
        c.register(0, "news", 1, Some("seq < -1 && n > 2"), &Value::Null)
            .unwrap();
        c.register(0, "news", 2, Some("seq < -2"), &Value::Null)
            .unwrap();
        c.register(
            0,
            "news",
            3,
            Some("owner = 'a' && title ~ 'x'"),
            &Value::Null,
        )
        .unwrap();
        assert_eq!(paths(&c), 2, "seq and n; the keyed filter is not interned");
        for conn in 1..=3 {
            c.set_active(0, "news", conn, true);
        }
        let got = who(&c, "news", Action::Created, json!({"seq": -3, "n": 3}));
        assert_eq!(got, [(1, Delivery::Created), (2, Delivery::Created)]);
        c.register(0, "news", 1, Some("owner = 'b'"), &Value::Null)
            .unwrap();
        assert_eq!(paths(&c), 1, "replaced by a keyed filter: n is freed");
        c.remove_conn(0, 2);
        assert_eq!(paths(&c), 0);
        let got = who(
            &c,
            "news",
            Action::Created,
            json!({"owner": "b", "seq": -3}),
        );
        assert_eq!(got, [(1, Delivery::Created)]);
    }

    #[test]
    fn unknown_collections_bad_filters_and_leaving_are_handled() {
        let mut c = collections();
        let err = c.register(0, "nope", 1, None, &Value::Null).unwrap_err();
        assert_eq!(err.status(), 404);
        let err = c
            .register(0, "news", 1, Some("a = "), &Value::Null)
            .unwrap_err();
        assert!(matches!(err, RealtimeError::Filter(_)));
        c.register(0, "news", 1, None, &Value::Null).unwrap();
        c.set_active(0, "news", 1, true);
        assert_eq!(who(&c, "news", Action::Deleted, json!({"id": 1})).len(), 1);
        c.set_active(0, "news", 1, false);
        assert!(who(&c, "news", Action::Deleted, json!({"id": 1})).is_empty());
        c.register(0, "news", 1, None, &Value::Null).unwrap();
        c.remove_conn(0, 1);
        c.set_active(0, "news", 1, true);
        assert!(who(&c, "news", Action::Deleted, json!({"id": 1})).is_empty());
    }

    #[test]
    fn a_connection_holds_at_most_the_limit_of_filters() {
        let mut app = AppConfig::with_credentials("1", "k", "s");
        app.collections = (0..=MAX_FILTERS_PER_CONNECTION)
            .map(|i| CollectionConfig {
                name: format!("c{i}"),
                list_rule: None,
                public: true,
            })
            .collect();
        let mut c = Collections::new(&[app]);
        for i in 0..MAX_FILTERS_PER_CONNECTION {
            c.register(0, &format!("c{i}"), 7, None, &Value::Null)
                .unwrap();
        }
        c.register(0, "c0", 7, Some("a = 1"), &Value::Null)
            .expect("replacing is no new one");
        let over = c.register(
            0,
            &format!("c{MAX_FILTERS_PER_CONNECTION}"),
            7,
            None,
            &Value::Null,
        );
        assert_eq!(over.unwrap_err(), RealtimeError::TooManyFilters);
    }
}
