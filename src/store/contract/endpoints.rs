//! Contract checks for endpoints, breakers and stats.

use super::{new_endpoint, seed_endpoint};
use crate::store::types::AttemptRecord;
use crate::store::{Store, StoreError};
use crate::webhook::breaker::BreakerState;
use crate::webhook::endpoint::{EndpointPatch, Format};
use crate::webhook::retry::NextState;

/// Create, get, list and delete, scoped by app.
pub async fn endpoint_crud<S: Store>(s: &S) {
    let created = s
        .create_endpoint(new_endpoint("app1", "ep1", 1_000))
        .await
        .unwrap();
    assert_eq!(created.secret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    assert_eq!(
        (created.created_at_ms, created.updated_at_ms),
        (1_000, 1_000)
    );
    s.create_endpoint(new_endpoint("app1", "ep2", 2_000))
        .await
        .unwrap();
    s.create_endpoint(new_endpoint("app2", "ep3", 500))
        .await
        .unwrap();
    assert_eq!(s.get_endpoint("app1", "ep1").await.unwrap(), created);
    let listed: Vec<_> = s
        .list_endpoints("app1")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(listed, ["ep1", "ep2"], "oldest first, only this app");
    assert_eq!(s.all_endpoints().await.unwrap().len(), 3);
    assert!(matches!(
        s.get_endpoint("app2", "ep1").await,
        Err(StoreError::NotFound {
            what: "endpoint",
            ..
        })
    ));
    assert!(matches!(
        s.create_endpoint(new_endpoint("app1", "ep1", 3_000)).await,
        Err(StoreError::Duplicate {
            what: "endpoint",
            ..
        })
    ));

    s.delete_endpoint("app1", "ep1").await.unwrap();
    assert!(matches!(
        s.delete_endpoint("app1", "ep1").await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(s.get_endpoint("app1", "ep1").await.is_err());
    assert_eq!(s.list_endpoints("app1").await.unwrap().len(), 1);
}

/// A patch changes only its fields; `Some(None)` clears the nullable ones; another app's
/// endpoint cannot be patched.
pub async fn endpoint_update<S: Store>(s: &S) {
    let created = s
        .create_endpoint(new_endpoint("app1", "ep1", 1_000))
        .await
        .unwrap();
    let patch = EndpointPatch {
        name: Some("renamed".into()),
        events: Some(vec!["*".into()]),
        is_active: Some(false),
        tenant_id: Some(Some("acme".into())),
        format: Some(Format::Pusher),
        ..EndpointPatch::default()
    };
    let updated = s
        .update_endpoint("app1", "ep1", &patch, 9_000)
        .await
        .unwrap();
    assert_eq!(updated.name, "renamed");
    assert_eq!(updated.events, ["*"]);
    assert!(!updated.is_active);
    assert_eq!(updated.tenant_id.as_deref(), Some("acme"));
    assert_eq!(updated.format, Format::Pusher);
    assert_eq!(
        updated.url, created.url,
        "fields outside the patch are kept"
    );
    assert_eq!(
        (updated.created_at_ms, updated.updated_at_ms),
        (1_000, 9_000)
    );
    assert_eq!(s.get_endpoint("app1", "ep1").await.unwrap(), updated);

    let clear = EndpointPatch {
        tenant_id: Some(None),
        rate_limit_per_s: Some(None),
        ..EndpointPatch::default()
    };
    let cleared = s
        .update_endpoint("app1", "ep1", &clear, 9_500)
        .await
        .unwrap();
    assert_eq!((cleared.tenant_id, cleared.rate_limit_per_s), (None, None));
    assert!(
        s.update_endpoint("app2", "ep1", &clear, 1).await.is_err(),
        "other app"
    );
}

/// The breaker reads closed until stored, round-trips, survives updates and goes with its
/// endpoint.
pub async fn breaker_persists<S: Store>(s: &S) {
    seed_endpoint(s, "app", "ep").await;
    assert_eq!(s.get_breaker("ep").await.unwrap(), BreakerState::default());
    let open = BreakerState {
        consecutive_failures: 5,
        open_until_ms: Some(3_601_000),
        probing: false,
    };
    s.put_breaker("ep", &open).await.unwrap();
    assert_eq!(s.get_breaker("ep").await.unwrap(), open);
    let probing = BreakerState {
        probing: true,
        ..open
    };
    s.put_breaker("ep", &probing).await.unwrap();
    assert_eq!(s.get_breaker("ep").await.unwrap(), probing);
    assert!(s.put_breaker("missing", &open).await.is_err());
    s.delete_endpoint("app", "ep").await.unwrap();
    seed_endpoint(s, "app", "ep").await;
    assert_eq!(
        s.get_breaker("ep").await.unwrap(),
        BreakerState::default(),
        "deleted with it"
    );
}

/// Stats count attempts in the window, their success rate and mean latency, and show the
/// breaker.
pub async fn stats_per_endpoint<S: Store>(s: &S) {
    seed_endpoint(s, "app", "good").await;
    seed_endpoint(s, "app", "bad").await;
    seed_endpoint(s, "other", "x").await;
    let batch: Vec<_> = (0..4)
        .map(|i| super::new_delivery("good", &format!("g{i}"), 0))
        .collect();
    s.insert_deliveries(&batch).await.unwrap();
    s.insert_deliveries(&[super::new_delivery("bad", "b0", 0)])
        .await
        .unwrap();
    let codes = [(200, 10), (204, 30), (500, 50), (200, 70)];
    for (i, (code, latency)) in codes.into_iter().enumerate() {
        let rec = AttemptRecord {
            attempt: 1,
            status_code: Some(code),
            latency_ms: latency,
            error: None,
            at_ms: 5_000 + i as i64,
        };
        s.finish_attempt(
            &format!("g{i}"),
            0,
            Some(&rec),
            &NextState::Delivered,
            6_000,
        )
        .await
        .unwrap();
    }
    let old = AttemptRecord {
        attempt: 1,
        status_code: None,
        latency_ms: 30_000,
        error: Some("timed out".into()),
        at_ms: 100,
    };
    s.finish_attempt("b0", 0, Some(&old), &NextState::Retry { at_ms: 200 }, 100)
        .await
        .unwrap();
    let breaker = BreakerState {
        consecutive_failures: 5,
        open_until_ms: Some(99),
        probing: false,
    };
    s.put_breaker("bad", &breaker).await.unwrap();

    let stats = s.endpoint_stats("app", 1_000).await.unwrap();
    assert_eq!(stats.len(), 2);
    let good = stats.iter().find(|e| e.endpoint_id == "good").unwrap();
    assert_eq!((good.attempts, good.successes), (4, 3));
    assert_eq!(good.success_rate, Some(0.75));
    assert_eq!(good.avg_latency_ms, Some(40.0));
    assert_eq!(good.breaker, BreakerState::default());
    let bad = stats.iter().find(|e| e.endpoint_id == "bad").unwrap();
    assert_eq!(
        (bad.attempts, bad.success_rate, bad.avg_latency_ms),
        (0, None, None),
        "outside the window"
    );
    assert_eq!(bad.breaker, breaker);
    assert_eq!(
        s.endpoint_stats("app", 0)
            .await
            .unwrap()
            .iter()
            .map(|e| e.attempts)
            .sum::<u64>(),
        5
    );
}
