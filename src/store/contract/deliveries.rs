//! Contract checks for deliveries: group commit, claims and leases, attempts and the log,
//! replay and retention.

use super::{new_delivery, seed_endpoint};
use crate::store::types::{AttemptRecord, DeliveryStatus, Finished, Pruned};
use crate::store::{Store, StoreError};
use crate::webhook::retry::NextState;

fn ids(ds: &[crate::store::types::Delivery]) -> Vec<&str> {
    ds.iter().map(|d| d.id.as_str()).collect()
}

fn attempt(n: u32, code: Option<u16>, at_ms: i64) -> AttemptRecord {
    AttemptRecord {
        attempt: n,
        status_code: code,
        latency_ms: 12,
        error: code
            .is_none()
            .then(|| "connection failed: refused".to_owned()),
        at_ms,
    }
}

/// A batch is recorded whole; a batch with a reused id records nothing.
pub async fn deliveries_batch_is_atomic<S: Store>(s: &S) {
    seed_endpoint(s, "app", "ep").await;
    let batch: Vec<_> = (0..50)
        .map(|i| new_delivery("ep", &format!("d{i}"), 10))
        .collect();
    s.insert_deliveries(&batch).await.unwrap();
    let d7 = s.get_delivery("d7").await.unwrap();
    assert_eq!(
        (d7.attempt, d7.status, d7.body.as_slice()),
        (0, DeliveryStatus::Pending, &b"{\"id\":\"d7\"}"[..])
    );
    let bad = vec![
        new_delivery("ep", "fresh", 10),
        new_delivery("ep", "d3", 10),
    ];
    assert!(matches!(
        s.insert_deliveries(&bad).await,
        Err(StoreError::Duplicate {
            what: "delivery",
            ..
        })
    ));
    assert!(
        matches!(
            s.get_delivery("fresh").await,
            Err(StoreError::NotFound { .. })
        ),
        "rolled back"
    );
    assert!(s
        .insert_deliveries(&[new_delivery("no-such-endpoint", "z", 1)])
        .await
        .is_err());
}

/// Claims take only due rows, in due-then-insertion order, and a lease hides a row until it
/// expires or the attempt is finished.
pub async fn claims_respect_due_time_order_and_lease<S: Store>(s: &S) {
    seed_endpoint(s, "app", "ep").await;
    let batch = vec![
        new_delivery("ep", "late", 500),
        new_delivery("ep", "b", 100),
        new_delivery("ep", "a", 100),
        new_delivery("ep", "early", 50),
    ];
    s.insert_deliveries(&batch).await.unwrap();
    assert!(s
        .claim_due_deliveries(49, 49, 1_049, 10)
        .await
        .unwrap()
        .is_empty());
    let first = s.claim_due_deliveries(100, 100, 1_100, 2).await.unwrap();
    assert_eq!(
        ids(&first),
        ["early", "b"],
        "due time, then insertion order"
    );
    let second = s.claim_due_deliveries(100, 100, 1_100, 10).await.unwrap();
    assert_eq!(ids(&second), ["a"], "leased rows are not claimed twice");
    let unleased = s
        .claim_due_deliveries(1_099, 1_099, 2_099, 10)
        .await
        .unwrap();
    assert_eq!(
        ids(&unleased),
        ["late"],
        "the others are leased until 1_100"
    );
    let expired = s
        .claim_due_deliveries(1_100, 1_100, 2_100, 10)
        .await
        .unwrap();
    assert_eq!(
        ids(&expired),
        ["early", "b", "a"],
        "an expired lease is claimable again"
    );
    s.finish_attempt(
        "early",
        expired[0].lease,
        Some(&attempt(1, Some(200), 1_100)),
        &NextState::Delivered,
        1_100,
    )
    .await
    .unwrap();
    let later = s
        .claim_due_deliveries(5_000, 5_000, 6_000, 10)
        .await
        .unwrap();
    assert_eq!(
        ids(&later),
        ["b", "a", "late"],
        "delivered rows are never claimed"
    );
}

/// Retry, wait, delivered and failed move the row as documented; waits use no attempt.
pub async fn attempts_move_deliveries<S: Store>(s: &S) {
    seed_endpoint(s, "app", "ep").await;
    s.insert_deliveries(&[new_delivery("ep", "d", 0)])
        .await
        .unwrap();
    let first = s.claim_due_deliveries(0, 0, 60_000, 1).await.unwrap();
    s.finish_attempt(
        "d",
        first[0].lease,
        Some(&attempt(1, Some(503), 0)),
        &NextState::Retry { at_ms: 60_000 },
        0,
    )
    .await
    .unwrap();
    let d = s.get_delivery("d").await.unwrap();
    assert_eq!(
        (d.attempt, d.status, d.next_attempt_at_ms),
        (1, DeliveryStatus::Pending, 60_000)
    );
    assert!(
        s.claim_due_deliveries(59_999, 59_999, 60_999, 1)
            .await
            .unwrap()
            .is_empty(),
        "lease released, not due"
    );

    let second = s
        .claim_due_deliveries(60_000, 60_000, 61_000, 1)
        .await
        .unwrap();
    s.finish_attempt(
        "d",
        second[0].lease,
        None,
        &NextState::Wait {
            until_ms: 3_660_000,
        },
        60_000,
    )
    .await
    .unwrap();
    let d = s.get_delivery("d").await.unwrap();
    assert_eq!(
        (d.attempt, d.status, d.next_attempt_at_ms),
        (1, DeliveryStatus::Waiting, 3_660_000)
    );
    let back = s
        .claim_due_deliveries(3_660_000, 3_660_000, 3_661_000, 5)
        .await
        .unwrap();
    assert_eq!(ids(&back), ["d"], "waiting rows come back");

    s.finish_attempt(
        "d",
        back[0].lease,
        Some(&attempt(2, None, 3_660_000)),
        &NextState::Failed,
        3_660_000,
    )
    .await
    .unwrap();
    let d = s.get_delivery("d").await.unwrap();
    assert_eq!((d.attempt, d.status), (2, DeliveryStatus::Failed));
    assert!(matches!(
        s.finish_attempt("nope", 0, None, &NextState::Failed, 0)
            .await,
        Err(StoreError::NotFound {
            what: "delivery",
            ..
        })
    ));
}

/// A batch of outcomes is recorded in one go, and a batch naming an unknown delivery records
/// nothing.
pub async fn finished_batches_are_atomic<S: Store>(s: &S) {
    seed_endpoint(s, "app", "ep").await;
    let batch: Vec<_> = (0..3)
        .map(|i| new_delivery("ep", &format!("d{i}"), 0))
        .collect();
    s.insert_deliveries(&batch).await.unwrap();
    let claimed = s.claim_due_deliveries(0, 0, 1_000, 10).await.unwrap();
    let done = |id: &str, attempt: Option<AttemptRecord>, next| Finished {
        id: id.to_owned(),
        lease: claimed.iter().find(|d| d.id == id).map_or(0, |d| d.lease),
        attempt,
        next,
    };
    let bad = vec![
        done("d0", Some(attempt(1, Some(200), 5)), NextState::Delivered),
        done("ghost", None, NextState::Failed),
    ];
    assert!(matches!(
        s.finish_attempts(&bad, 5).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        s.get_delivery("d0").await.unwrap().status,
        DeliveryStatus::Pending,
        "rolled back"
    );
    assert!(s
        .delivery_log("ep", None, 10)
        .await
        .unwrap()
        .items
        .is_empty());
    let good = vec![
        done("d0", Some(attempt(1, Some(200), 5)), NextState::Delivered),
        done(
            "d1",
            Some(attempt(1, Some(503), 5)),
            NextState::Retry { at_ms: 65_000 },
        ),
        done("d2", None, NextState::Wait { until_ms: 9_000 }),
    ];
    s.finish_attempts(&good, 5).await.unwrap();
    let state = |d: crate::store::types::Delivery| (d.status, d.attempt, d.next_attempt_at_ms);
    assert_eq!(
        state(s.get_delivery("d0").await.unwrap()).0,
        DeliveryStatus::Delivered
    );
    assert_eq!(
        state(s.get_delivery("d1").await.unwrap()),
        (DeliveryStatus::Pending, 1, 65_000)
    );
    assert_eq!(
        state(s.get_delivery("d2").await.unwrap()),
        (DeliveryStatus::Waiting, 0, 9_000)
    );
    assert_eq!(s.delivery_log("ep", None, 10).await.unwrap().items.len(), 2);
    assert_eq!(
        ids(&s
            .claim_due_deliveries(9_000, 9_000, 10_000, 10)
            .await
            .unwrap()),
        ["d2"],
        "leases released"
    );
}

/// The log lists attempts newest first with every field, paged by cursor, per endpoint.
pub async fn delivery_log_pages<S: Store>(s: &S) {
    seed_endpoint(s, "app", "ep").await;
    seed_endpoint(s, "app", "other").await;
    s.insert_deliveries(&[new_delivery("ep", "d1", 0), new_delivery("ep", "d2", 0)])
        .await
        .unwrap();
    s.insert_deliveries(&[new_delivery("other", "o1", 0)])
        .await
        .unwrap();
    let retry = NextState::Retry { at_ms: 1 };
    s.finish_attempt("d1", 0, Some(&attempt(1, Some(500), 10)), &retry, 10)
        .await
        .unwrap();
    s.finish_attempt("d2", 0, Some(&attempt(1, None, 20)), &retry, 20)
        .await
        .unwrap();
    s.finish_attempt(
        "o1",
        0,
        Some(&attempt(1, Some(200), 25)),
        &NextState::Delivered,
        25,
    )
    .await
    .unwrap();
    s.finish_attempt(
        "d1",
        0,
        Some(&attempt(2, Some(200), 30)),
        &NextState::Delivered,
        30,
    )
    .await
    .unwrap();

    let page1 = s.delivery_log("ep", None, 2).await.unwrap();
    let seen: Vec<_> = page1
        .items
        .iter()
        .map(|e| (e.delivery_id.as_str(), e.attempt.attempt))
        .collect();
    assert_eq!(seen, [("d1", 2), ("d2", 1)]);
    assert_eq!(page1.items[0].attempt, attempt(2, Some(200), 30));
    assert_eq!(page1.items[0].event, "order.paid");
    assert_eq!(page1.items[0].delivery_status, DeliveryStatus::Delivered);
    assert_eq!(
        page1.items[1].attempt.error.as_deref(),
        Some("connection failed: refused")
    );
    let page2 = s.delivery_log("ep", page1.next, 2).await.unwrap();
    assert_eq!(page2.items.len(), 1);
    assert_eq!(page2.items[0].attempt, attempt(1, Some(500), 10));
    assert_eq!(page2.next, None, "a short page is the last");
}

/// A replay makes a finished delivery pending and due now with its attempts reset.
pub async fn requeue_replays_a_delivery<S: Store>(s: &S) {
    seed_endpoint(s, "app", "ep").await;
    seed_endpoint(s, "app", "other").await;
    s.insert_deliveries(&[new_delivery("ep", "d", 0)])
        .await
        .unwrap();
    s.finish_attempt(
        "d",
        0,
        Some(&attempt(6, Some(500), 5)),
        &NextState::Failed,
        5,
    )
    .await
    .unwrap();
    assert!(matches!(
        s.requeue_delivery("other", "d", 9).await,
        Err(StoreError::NotFound { .. })
    ));
    let d = s.requeue_delivery("ep", "d", 9_000).await.unwrap();
    assert_eq!(
        (d.status, d.attempt, d.next_attempt_at_ms),
        (DeliveryStatus::Pending, 0, 9_000)
    );
    assert_eq!(
        ids(&s
            .claim_due_deliveries(9_000, 9_000, 9_010, 5)
            .await
            .unwrap()),
        ["d"]
    );
    assert_eq!(
        s.delivery_log("ep", None, 10).await.unwrap().items.len(),
        1,
        "history is kept"
    );
}

/// Retention removes finished deliveries older than the cutoff, in batches, with counts, and
/// never a pending one.
pub async fn retention_prunes_in_batches<S: Store>(s: &S) {
    const DAY: i64 = 86_400_000;
    seed_endpoint(s, "app", "ep").await;
    let batch: Vec<_> = (0..5)
        .map(|i| new_delivery("ep", &format!("old{i}"), 0))
        .collect();
    s.insert_deliveries(&batch).await.unwrap();
    s.insert_deliveries(&[
        new_delivery("ep", "recent", 0),
        new_delivery("ep", "live", 0),
    ])
    .await
    .unwrap();
    for i in 0..5 {
        let id = format!("old{i}");
        s.finish_attempt(
            &id,
            0,
            Some(&attempt(1, Some(200), DAY)),
            &NextState::Delivered,
            DAY,
        )
        .await
        .unwrap();
    }
    s.finish_attempt(
        "recent",
        0,
        Some(&attempt(1, Some(200), 95 * DAY)),
        &NextState::Delivered,
        95 * DAY,
    )
    .await
    .unwrap();
    s.finish_attempt(
        "live",
        0,
        Some(&attempt(1, Some(500), DAY)),
        &NextState::Retry { at_ms: 200 * DAY },
        DAY,
    )
    .await
    .unwrap();

    let cutoff = 100 * DAY - 90 * DAY; // "now" is day 100, retention 90 days
    assert_eq!(
        s.prune_deliveries(cutoff, 2).await.unwrap(),
        Pruned {
            deliveries: 2,
            attempts: 3
        }
    );
    assert_eq!(
        s.prune_deliveries(cutoff, 2).await.unwrap(),
        Pruned {
            deliveries: 2,
            attempts: 2
        }
    );
    assert_eq!(
        s.prune_deliveries(cutoff, 2).await.unwrap(),
        Pruned {
            deliveries: 1,
            attempts: 1
        }
    );
    assert_eq!(
        s.prune_deliveries(cutoff, 2).await.unwrap(),
        Pruned::default()
    );
    assert!(s.get_delivery("recent").await.is_ok());
    let live = s.get_delivery("live").await.unwrap();
    assert_eq!(
        live.status,
        DeliveryStatus::Pending,
        "pending deliveries are never pruned"
    );
    assert_eq!(
        s.delivery_log("ep", None, 10).await.unwrap().items.len(),
        1,
        "only recent's attempt is left"
    );
}

/// A lease taken over (expired and claimed again, or replayed) fences out its old owner:
/// the late finish writes nothing, alone or inside a batch, and the new owner's result stands.
pub async fn stale_leases_are_fenced<S: Store>(s: &S) {
    seed_endpoint(s, "app", "ep").await;
    s.insert_deliveries(&[new_delivery("ep", "d", 0), new_delivery("ep", "e", 0)])
        .await
        .unwrap();
    let old = s.claim_due_deliveries(0, 0, 1_000, 1).await.unwrap();
    let new = s
        .claim_due_deliveries(1_000, 1_000, 2_000, 1)
        .await
        .unwrap();
    assert_eq!(ids(&new), ["d"], "the expired lease is claimed again");
    assert_ne!(old[0].lease, new[0].lease, "each claim has its own token");
    let won = s
        .finish_attempt(
            "d",
            new[0].lease,
            Some(&attempt(1, Some(200), 1_500)),
            &NextState::Delivered,
            1_500,
        )
        .await
        .unwrap();
    assert!(won);
    let late = NextState::Retry { at_ms: 70_000 };
    let lost = s
        .finish_attempt(
            "d",
            old[0].lease,
            Some(&attempt(1, Some(500), 1_600)),
            &late,
            1_600,
        )
        .await
        .unwrap();
    assert!(!lost, "the old owner is told it lost the lease");
    let d = s.get_delivery("d").await.unwrap();
    assert_eq!((d.status, d.attempt), (DeliveryStatus::Delivered, 1));
    assert_eq!(s.delivery_log("ep", None, 10).await.unwrap().items.len(), 1);

    // A replay while an attempt is in flight: the attempt's outcome is not recorded.
    let held = s
        .claim_due_deliveries(2_000, 2_000, 62_000, 1)
        .await
        .unwrap();
    assert_eq!(ids(&held), ["e"]);
    s.requeue_delivery("ep", "e", 2_100).await.unwrap();
    let batch = [
        Finished {
            id: "e".into(),
            lease: held[0].lease,
            attempt: Some(attempt(1, Some(500), 2_200)),
            next: NextState::Failed,
        },
        Finished {
            id: "d".into(),
            lease: new[0].lease,
            attempt: None,
            next: NextState::Delivered,
        },
    ];
    assert_eq!(s.finish_attempts(&batch, 2_200).await.unwrap(), 1);
    let e = s.get_delivery("e").await.unwrap();
    assert_eq!(
        (e.status, e.attempt, e.next_attempt_at_ms),
        (DeliveryStatus::Pending, 0, 2_100)
    );
    assert!(matches!(
        s.finish_attempt("ghost", 1, None, &NextState::Failed, 0)
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

/// A claim may read ahead of due time (what falls due by `up_to_ms`), and take over leases
/// not yet expired (`expired_by_ms` beyond now, after a restart).
pub async fn claims_read_ahead_of_due_time<S: Store>(s: &S) {
    seed_endpoint(s, "app", "ep").await;
    let batch = [
        new_delivery("ep", "soon", 100),
        new_delivery("ep", "later", 500),
        new_delivery("ep", "far", 5_000),
    ];
    s.insert_deliveries(&batch).await.unwrap();
    let ahead = s.claim_due_deliveries(600, 0, 1_000, 10).await.unwrap();
    assert_eq!(ids(&ahead), ["soon", "later"], "due within the window");
    let next = s.claim_due_deliveries(6_000, 999, 1_999, 10).await.unwrap();
    assert_eq!(ids(&next), ["far"], "leased until 1_000");
    let again = s.claim_due_deliveries(600, 1_000, 2_000, 10).await.unwrap();
    assert_eq!(
        ids(&again),
        ["soon", "later"],
        "the leases ran out at 1_000"
    );
    let taken = s
        .claim_due_deliveries(6_000, i64::MAX, 9_000, 10)
        .await
        .unwrap();
    assert_eq!(
        ids(&taken),
        ["soon", "later", "far"],
        "after a restart every lease is taken over"
    );
}
