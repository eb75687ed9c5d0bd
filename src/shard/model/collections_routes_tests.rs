//! Routes: a core that applies every other core's announcements, in order, finds for a change
//! exactly the deliveries the other cores' own evaluation gives, while filters are registered,
//! replaced, activated, left and closed; and a routed delivery evaluated against a filter that
//! has since been replaced is decided by the current one. Test-only.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::collections::{Announcement, Collections, Routed};
use crate::config::{AppConfig, CollectionConfig};
use crate::proto::filter::index_tests::{filter_text, record};
use crate::proto::filter::{Action, Change, Delivery};

const CORES: usize = 3;

/// One core per entry, all serving the app with a public collection `news` and a collection
/// `posts` whose list rule reads the claims.
fn mesh(leaves: bool) -> Vec<Collections> {
    let mut app = AppConfig::with_credentials("1", "k", "s");
    app.realtime_leaves = leaves;
    app.collections = vec![
        CollectionConfig {
            name: "news".into(),
            list_rule: None,
            public: true,
        },
        CollectionConfig {
            name: "posts".into(),
            list_rule: Some("owner = @request.auth.id || n > 1".into()),
            public: false,
        },
    ];
    (0..CORES)
        .map(|_| Collections::new(&[app.clone()]))
        .collect()
}

/// Hands `core`'s announcements to every other core, as the shell does over the rings.
fn announce(mesh: &mut [Collections], core: usize, announcements: Vec<Announcement>) {
    for announcement in &announcements {
        for (other, c) in mesh.iter_mut().enumerate() {
            if other != core {
                c.apply(0, core, announcement);
            }
        }
    }
}

/// The deliveries of `change` on every core but `from`, asked of the cores themselves, as
/// (core, connection, delivery) in order.
fn reached(
    mesh: &[Collections],
    from: usize,
    collection: &str,
    change: &Change<'_>,
) -> Vec<(usize, usize, Delivery)> {
    let mut got = Vec::new();
    for (core, c) in mesh.iter().enumerate().filter(|&(core, _)| core != from) {
        c.deliveries(0, collection, change, |conn, d| got.push((core, conn, d)));
    }
    got.sort_by_key(|&(core, conn, _)| (core, conn));
    got
}

/// The deliveries `from`'s routes find for `change`, each confirmed by its core, in order.
fn routed(
    mesh: &[Collections],
    from: usize,
    collection: &str,
    change: &Change<'_>,
) -> Vec<(usize, usize, Delivery)> {
    let mut found: Vec<Routed> = Vec::new();
    assert!(mesh[from].route(0, collection, change, |r| found.push(r)));
    let mut got: Vec<_> = found
        .iter()
        .filter_map(|r| {
            let d = mesh[r.core].confirm(0, collection, r, change)?;
            Some((r.core, r.conn, d))
        })
        .collect();
    got.sort_by_key(|&(core, conn, _)| (core, conn));
    got
}

fn created(record: &Value) -> Change<'_> {
    Change {
        action: Action::Created,
        record,
        previous: None,
    }
}

#[derive(Debug, Clone)]
enum Op {
    Register {
        core: usize,
        conn: usize,
        posts: bool,
        filter: String,
    },
    Subscribe {
        core: usize,
        conn: usize,
        posts: bool,
    },
    Leave {
        core: usize,
        conn: usize,
        posts: bool,
    },
    Close {
        core: usize,
        conn: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let at = (0..CORES, 0..4usize, any::<bool>());
    prop_oneof![
        3 => (at.clone(), filter_text()).prop_map(|((core, conn, posts), filter)| Op::Register {
            core,
            conn,
            posts,
            filter
        }),
        3 => at.clone().prop_map(|(core, conn, posts)| Op::Subscribe { core, conn, posts }),
        1 => at.prop_map(|(core, conn, posts)| Op::Leave { core, conn, posts }),
        1 => (0..CORES, 0..4usize).prop_map(|(core, conn)| Op::Close { core, conn }),
    ]
}

fn collection(posts: bool) -> &'static str {
    if posts {
        "posts"
    } else {
        "news"
    }
}

fn run(mesh: &mut [Collections], op: &Op) {
    let (core, announcements) = match op {
        Op::Register {
            core,
            conn,
            posts,
            filter,
        } => {
            // Claims differ per connection, so `@request.auth.id` binds differently.
            let user = ["a", "b"][conn % 2];
            let claims = json!({ "id": user });
            let got = mesh[*core].register(0, collection(*posts), *conn, Some(filter), &claims);
            (*core, got.ok().flatten().into_iter().collect())
        }
        Op::Subscribe { core, conn, posts } => {
            let got = mesh[*core].set_active(0, collection(*posts), *conn, true);
            (*core, got.into_iter().collect())
        }
        Op::Leave { core, conn, posts } => {
            let got = mesh[*core].set_active(0, collection(*posts), *conn, false);
            (*core, got.into_iter().collect())
        }
        Op::Close { core, conn } => (*core, mesh[*core].remove_conn(0, *conn)),
    };
    announce(mesh, core, announcements);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn routes_find_exactly_what_each_core_finds(
        leaves in any::<bool>(),
        ops in proptest::collection::vec(op(), 0..40),
        changes in proptest::collection::vec((0..3u8, record(), record(), any::<bool>()), 1..8),
    ) {
        let mut mesh = mesh(leaves);
        for op in &ops {
            run(&mut mesh, op);
        }
        for (action, rec, prev, posts) in &changes {
            let change = Change {
                action: [Action::Created, Action::Updated, Action::Deleted][*action as usize],
                record: rec,
                previous: (*action == 1).then_some(prev),
            };
            for from in 0..CORES {
                prop_assert_eq!(
                    routed(&mesh, from, collection(*posts), &change),
                    reached(&mesh, from, collection(*posts), &change)
                );
            }
        }
    }
}

#[test]
fn a_core_learns_of_a_filter_when_it_is_subscribed_and_forgets_it_when_it_closes() {
    let mut mesh = mesh(true);
    let record = json!({"owner": "a"});
    let change = created(&record);
    let registered = mesh[1].register(0, "news", 7, Some("owner = 'a'"), &Value::Null);
    assert_eq!(
        registered,
        Ok(None),
        "not subscribed yet: nothing to announce"
    );
    assert_eq!(routed(&mesh, 0, "news", &change), []);
    let subscribed = mesh[1].set_active(0, "news", 7, true).into_iter().collect();
    announce(&mut mesh, 1, subscribed);
    assert_eq!(
        routed(&mesh, 0, "news", &change),
        [(1, 7, Delivery::Created)]
    );
    let replaced = mesh[1].register(0, "news", 7, Some("owner = 'b'"), &Value::Null);
    announce(&mut mesh, 1, replaced.unwrap().into_iter().collect());
    assert_eq!(routed(&mesh, 0, "news", &change), []);
    let closed = mesh[1].remove_conn(0, 7);
    assert_eq!(closed.len(), 1);
    announce(&mut mesh, 1, closed);
    let other = json!({"owner": "b"});
    let change = created(&other);
    assert_eq!(routed(&mesh, 0, "news", &change), []);
}

#[test]
fn a_routed_delivery_of_a_replaced_filter_is_decided_by_the_current_one() {
    let mut mesh = mesh(true);
    let record = json!({"owner": "a"});
    let change = created(&record);
    mesh[1]
        .register(0, "news", 7, Some("owner = 'a'"), &Value::Null)
        .unwrap();
    let subscribed = mesh[1].set_active(0, "news", 7, true).into_iter().collect();
    announce(&mut mesh, 1, subscribed);
    let mut found = Vec::new();
    mesh[0].route(0, "news", &change, |r| found.push(r));
    assert_eq!(found.len(), 1);
    // Replaced before the routed delivery arrives, the announcement still on its way.
    mesh[1]
        .register(0, "news", 7, Some("owner = 'b'"), &Value::Null)
        .unwrap();
    assert_eq!(mesh[1].confirm(0, "news", &found[0], &change), None);
    mesh[1]
        .register(0, "news", 7, Some("owner != 'c'"), &Value::Null)
        .unwrap();
    assert_eq!(
        mesh[1].confirm(0, "news", &found[0], &change),
        Some(Delivery::Created),
        "evaluated against the current filter"
    );
    mesh[1].set_active(0, "news", 7, false);
    assert_eq!(mesh[1].confirm(0, "news", &found[0], &change), None, "left");
}

#[test]
fn without_the_index_nothing_is_routed() {
    let mut app = AppConfig::with_credentials("1", "k", "s");
    app.realtime_index = false;
    let c = Collections::new(&[app]);
    let record = json!({});
    let change = created(&record);
    assert!(!c.route(0, "news", &change, |_| panic!("nothing to find")));
}
