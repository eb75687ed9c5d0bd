//! The store contract: one async check per behaviour, run against any [`Store`].
//!
//! Every back end runs the whole list through [`contract_suite!`] (SQLite in
//! `store::sqlite::tests`, Redis in `store::redis::tests`), so back ends cannot drift apart. Checks take
//! a fresh store and inject every time value; none of them reads a clock.

mod deliveries;
mod endpoints;
mod notifications;

pub use deliveries::*;
pub use endpoints::*;
pub use notifications::*;

use std::collections::BTreeMap;
use std::future::Future;

use super::types::{NewDelivery, NewEndpoint};
use super::Store;
use crate::webhook::endpoint::{EndpointSpec, Format};

/// Runs a store future to completion on a single-threaded monoio runtime, as the control core
/// will.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .expect("a legacy monoio runtime builds")
        .block_on(fut)
}

/// One `#[test]` per named check, each on a fresh store from `$make`, which yields
/// `(guard, store)`; the guard (a temp dir, a connection) lives until the check ends.
macro_rules! contract_tests {
    ($make:expr; $($check:ident),+ $(,)?) => {
        $(
            #[test]
            fn $check() {
                let (_guard, store) = $make;
                $crate::store::contract::block_on($crate::store::contract::$check(&store));
            }
        )+
    };
}
pub(crate) use contract_tests;

/// The whole contract, one `#[test]` per check, on fresh stores from `$make`: what every back
/// end runs, so a check added here runs against all of them.
macro_rules! contract_suite {
    ($make:expr) => {
        $crate::store::contract::contract_tests!($make;
            endpoint_crud,
            endpoint_update,
            breaker_persists,
            stats_per_endpoint,
            deliveries_batch_is_atomic,
            claims_respect_due_time_order_and_lease,
            attempts_move_deliveries,
            finished_batches_are_atomic,
            delivery_log_pages,
            requeue_replays_a_delivery,
            retention_prunes_in_batches,
            stale_leases_are_fenced,
            claims_read_ahead_of_due_time,
            notification_insert_is_idempotent,
            notification_cancel_only_pending,
            notification_list_filters_and_pages,
            notification_claims_in_order_with_lease,
            notification_settles_a_batch,
            notification_settle_and_prune,
        );
    };
}
pub(crate) use contract_suite;

/// A valid endpoint of `app` named `name`, with a fixed secret.
pub fn new_endpoint(app: &str, id: &str, now_ms: i64) -> NewEndpoint {
    NewEndpoint {
        id: id.to_owned(),
        app_id: app.to_owned(),
        spec: EndpointSpec {
            name: format!("{id} hook"),
            url: format!("https://hooks.example.com/{id}"),
            events: vec!["order.*".to_owned()],
            tenant_id: None,
            is_active: true,
            max_retries: 5,
            retry_delays: vec![60, 300],
            secret: None,
            headers: BTreeMap::from([("X-Team".to_owned(), "billing".to_owned())]),
            rate_limit_per_s: Some(10),
            format: Format::Standard,
        },
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
        now_ms,
    }
}

/// A delivery `id` to `endpoint`, due at `due_ms`.
pub fn new_delivery(endpoint: &str, id: &str, due_ms: i64) -> NewDelivery {
    NewDelivery {
        id: id.to_owned(),
        endpoint_id: endpoint.to_owned(),
        event: "order.paid".to_owned(),
        body: format!("{{\"id\":\"{id}\"}}").into_bytes(),
        created_at_ms: due_ms,
        next_attempt_at_ms: due_ms,
    }
}

/// Creates endpoint `id` of `app`, panicking with the store's message on failure.
pub async fn seed_endpoint<S: Store>(s: &S, app: &str, id: &str) {
    s.create_endpoint(new_endpoint(app, id, 1_000))
        .await
        .unwrap_or_else(|e| panic!("create endpoint {id}: {e}"));
}
