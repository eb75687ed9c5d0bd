//! Contract checks for scheduled notifications.

use crate::store::types::{
    NewNotification, NotificationFilter, NotificationOutcome, NotificationStatus,
};
use crate::store::{Store, StoreError};

fn note(app: &str, id: &str, client: Option<&str>, user: &str, due_ms: i64) -> NewNotification {
    NewNotification {
        id: id.to_owned(),
        app_id: app.to_owned(),
        client_id: client.map(str::to_owned),
        channel: format!("private-user.{user}"),
        user_id: Some(user.to_owned()),
        event: "reminder".to_owned(),
        payload: format!("{{\"n\":\"{id}\"}}").into_bytes(),
        due_at_ms: due_ms,
    }
}

/// A repeated `(app, client id)` returns the existing row, also within one batch, and other
/// apps may reuse the client id.
pub async fn notification_insert_is_idempotent<S: Store>(s: &S) {
    let first = s
        .insert_notifications(&[note("a", "n1", Some("c1"), "u", 100)], 10)
        .await
        .unwrap();
    assert!(first[0].created);
    assert_eq!(first[0].notification.status, NotificationStatus::Pending);
    let stored = s.get_notification("a", "n1").await.unwrap();
    assert_eq!(
        stored, first[0].notification,
        "what comes back is what was stored"
    );
    assert_eq!(stored.channel, "private-user.u");
    let again = vec![
        note("a", "n2", Some("c1"), "u", 999),
        note("a", "n3", Some("c3"), "u", 100),
        note("a", "n4", Some("c3"), "u", 100),
        note("b", "n5", Some("c1"), "u", 100),
        note("a", "n6", None, "u", 100),
    ];
    let out = s.insert_notifications(&again, 20).await.unwrap();
    let summary: Vec<_> = out
        .iter()
        .map(|i| (i.notification.id.as_str(), i.created))
        .collect();
    assert_eq!(
        summary,
        [
            ("n1", false),
            ("n3", true),
            ("n3", false),
            ("n5", true),
            ("n6", true)
        ]
    );
    assert_eq!(
        out[0].notification, first[0].notification,
        "the stored row, unchanged"
    );
    assert_eq!(
        s.get_notification("a", "n3").await.unwrap().created_at_ms,
        20
    );
    assert!(matches!(
        s.get_notification("b", "n1").await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.get_notification("a", "n2").await,
        Err(StoreError::NotFound { .. })
    ));
}

/// Only a pending notification can be cancelled; otherwise a typed conflict names its status.
pub async fn notification_cancel_only_pending<S: Store>(s: &S) {
    s.insert_notifications(
        &[note("a", "n1", None, "u", 0), note("a", "n2", None, "u", 0)],
        1,
    )
    .await
    .unwrap();
    let cancelled = s.cancel_notification("a", "n1", 5).await.unwrap();
    assert_eq!(
        (cancelled.status, cancelled.updated_at_ms),
        (NotificationStatus::Cancelled, 5)
    );
    assert!(matches!(
        s.cancel_notification("a", "n1", 6).await,
        Err(StoreError::Conflict {
            status: "cancelled",
            ..
        })
    ));
    s.settle_notification("n2", &NotificationOutcome::Delivered, 7)
        .await
        .unwrap();
    assert!(matches!(
        s.cancel_notification("a", "n2", 8).await,
        Err(StoreError::Conflict {
            status: "delivered",
            ..
        })
    ));
    assert!(matches!(
        s.cancel_notification("a", "zz", 8).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(s
        .claim_due_notifications(100, 100, 10, 10)
        .await
        .unwrap()
        .is_empty());
}

/// Listing filters by status and user, newest first, paged by cursor.
pub async fn notification_list_filters_and_pages<S: Store>(s: &S) {
    let batch: Vec<_> = (0..5)
        .map(|i| {
            note(
                "a",
                &format!("n{i}"),
                None,
                if i % 2 == 0 { "even" } else { "odd" },
                0,
            )
        })
        .collect();
    s.insert_notifications(&batch, 1).await.unwrap();
    s.insert_notifications(&[note("b", "other", None, "even", 0)], 1)
        .await
        .unwrap();
    s.cancel_notification("a", "n4", 2).await.unwrap();
    let all = NotificationFilter::default();
    let p1 = s.list_notifications("a", &all, None, 2).await.unwrap();
    let p2 = s.list_notifications("a", &all, p1.next, 2).await.unwrap();
    let p3 = s.list_notifications("a", &all, p2.next, 2).await.unwrap();
    let order: Vec<_> = [p1.items, p2.items, p3.items]
        .concat()
        .into_iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(order, ["n4", "n3", "n2", "n1", "n0"]);
    assert_eq!(p3.next, None);
    let even_pending = NotificationFilter {
        status: Some(NotificationStatus::Pending),
        user_id: Some("even"),
    };
    let ids: Vec<_> = s
        .list_notifications("a", &even_pending, None, 10)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(ids, ["n2", "n0"]);
    assert_eq!(s.count_pending_notifications("a").await.unwrap(), 4);
    assert_eq!(s.count_pending_notifications("b").await.unwrap(), 1);
}

/// Claims take pending notifications due by `up_to`, by due time then insertion, under a lease.
pub async fn notification_claims_in_order_with_lease<S: Store>(s: &S) {
    let batch = vec![
        note("a", "late", None, "u", 300),
        note("a", "x", None, "u", 100),
        note("a", "y", None, "u", 100),
        note("a", "first", None, "u", 50),
    ];
    s.insert_notifications(&batch, 0).await.unwrap();
    let ids =
        |v: Vec<crate::store::types::Notification>| v.into_iter().map(|n| n.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.claim_due_notifications(100, 0, 1_000, 2).await.unwrap()),
        ["first", "x"]
    );
    assert_eq!(
        ids(s.claim_due_notifications(200, 0, 1_000, 10).await.unwrap()),
        ["y"]
    );
    assert!(
        s.claim_due_notifications(400, 999, 1_000, 10)
            .await
            .unwrap()
            .len()
            == 1,
        "only 'late' is free"
    );
    assert_eq!(
        ids(s
            .claim_due_notifications(400, 1_000, 1_000, 10)
            .await
            .unwrap()),
        ["first", "x", "y"]
    );
}

/// Settling moves a claimed notification to delivered, failed with a reason, or a new time;
/// settling a cancelled one is a conflict; pruning removes old finished rows in batches.
pub async fn notification_settle_and_prune<S: Store>(s: &S) {
    let batch: Vec<_> = (0..4)
        .map(|i| note("a", &format!("n{i}"), None, "u", 0))
        .collect();
    s.insert_notifications(&batch, 0).await.unwrap();
    s.settle_notification("n0", &NotificationOutcome::Delivered, 10)
        .await
        .unwrap();
    s.settle_notification(
        "n1",
        &NotificationOutcome::Failed {
            reason: "no such user".into(),
        },
        10,
    )
    .await
    .unwrap();
    s.settle_notification("n2", &NotificationOutcome::Reschedule { at_ms: 5_000 }, 10)
        .await
        .unwrap();
    let n1 = s.get_notification("a", "n1").await.unwrap();
    assert_eq!(
        (n1.status, n1.reason.as_deref(), n1.attempts),
        (NotificationStatus::Failed, Some("no such user"), 1)
    );
    let n2 = s.get_notification("a", "n2").await.unwrap();
    assert_eq!(
        (n2.status, n2.due_at_ms, n2.attempts),
        (NotificationStatus::Pending, 5_000, 1)
    );
    s.cancel_notification("a", "n3", 20).await.unwrap();
    assert!(matches!(
        s.settle_notification("n3", &NotificationOutcome::Delivered, 30)
            .await,
        Err(StoreError::Conflict {
            status: "cancelled",
            ..
        })
    ));
    assert!(matches!(
        s.settle_notification("zz", &NotificationOutcome::Delivered, 30)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        s.prune_notifications(15, 10).await.unwrap(),
        2,
        "n0 and n1 changed before 15"
    );
    assert_eq!(s.prune_notifications(100, 10).await.unwrap(), 1, "then n3");
    assert_eq!(s.prune_notifications(100, 10).await.unwrap(), 0);
    assert_eq!(
        s.get_notification("a", "n2").await.unwrap().status,
        NotificationStatus::Pending
    );
}

/// A batch settles in one call, in order, leaving alone what is no longer pending; the pending
/// check answers per id; a rescheduled notification is claimable again at its new time.
pub async fn notification_settles_a_batch<S: Store>(s: &S) {
    let batch: Vec<_> = (0..4)
        .map(|i| note("a", &format!("n{i}"), None, "u", 0))
        .collect();
    s.insert_notifications(&batch, 0).await.unwrap();
    assert_eq!(
        s.claim_due_notifications(0, 0, 1_000, 10)
            .await
            .unwrap()
            .len(),
        4
    );
    s.cancel_notification("a", "n2", 5).await.unwrap();
    let ids: Vec<String> = ["n0", "n1", "n2", "n3", "zz"].map(str::to_owned).into();
    assert_eq!(
        s.pending_among(&ids).await.unwrap(),
        [true, true, false, true, false]
    );
    let failed = NotificationOutcome::Failed {
        reason: "app 'a' is no longer configured".into(),
    };
    let outcomes = vec![
        ("n0".to_owned(), NotificationOutcome::Delivered),
        ("n1".to_owned(), failed),
        ("n2".to_owned(), NotificationOutcome::Delivered),
        (
            "n3".to_owned(),
            NotificationOutcome::Reschedule { at_ms: 500 },
        ),
        ("zz".to_owned(), NotificationOutcome::Delivered),
    ];
    assert_eq!(
        s.settle_notifications(&outcomes, 10).await.unwrap(),
        [true, true, false, true, false]
    );
    let status = |n: crate::store::types::Notification| (n.status, n.attempts, n.reason);
    assert_eq!(
        status(s.get_notification("a", "n0").await.unwrap()),
        (NotificationStatus::Delivered, 1, None)
    );
    assert_eq!(
        status(s.get_notification("a", "n1").await.unwrap()),
        (
            NotificationStatus::Failed,
            1,
            Some("app 'a' is no longer configured".into())
        )
    );
    assert_eq!(
        status(s.get_notification("a", "n2").await.unwrap()),
        (NotificationStatus::Cancelled, 0, None)
    );
    assert!(s
        .claim_due_notifications(499, 10, 1_000, 10)
        .await
        .unwrap()
        .is_empty());
    let again = s.claim_due_notifications(500, 10, 1_000, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id.as_str(), again[0].attempts), ("n3", 1));
    assert!(s.settle_notifications(&[], 20).await.unwrap().is_empty());
}
