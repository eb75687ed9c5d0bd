//! The Redis store against the store contract, on a real redis-server, plus what only a shared
//! store has: a second node's claim after a lease ran out fences off the first node's outcome.
//!
//! One redis-server serves the tests that run at the same time; each test gets its own key
//! prefix, so they cannot see each other's rows.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::RedisStore;
use crate::store::contract::{block_on, contract_suite, new_delivery, seed_endpoint};
use crate::store::types::{AttemptRecord, DeliveryStatus, NotificationOutcome};
use crate::store::{
    DeliveryStore, EndpointStore, NewNotification, NotificationStatus, NotificationStore,
};
use crate::webhook::retry::NextState;

#[path = "../../../tests/support/redis_server.rs"]
mod redis_server;
use redis_server::RedisServer;

/// The running server while any test holds it.
fn server() -> Arc<RedisServer> {
    static SHARED: Mutex<Weak<RedisServer>> = Mutex::new(Weak::new());
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(server) = shared.upgrade() {
        return server;
    }
    let server = Arc::new(RedisServer::start(&[]));
    *shared = Arc::downgrade(&server);
    server
}

/// A store of `server` under a prefix no other test uses.
fn store_on(server: &RedisServer, prefix: &str) -> RedisStore {
    RedisStore::new(server.target(), prefix, Duration::from_secs(3))
}

fn fresh() -> (Arc<RedisServer>, RedisStore) {
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let server = server();
    let store = store_on(&server, &format!("t{n}:"));
    (server, store)
}

contract_suite!(fresh());

fn ok_attempt(at_ms: i64) -> AttemptRecord {
    AttemptRecord {
        attempt: 1,
        status_code: Some(200),
        latency_ms: 5,
        error: None,
        at_ms,
    }
}

/// Node A's lease runs out, node B claims and delivers; A's late retry is dropped (A is told
/// so), B's result stands and the log holds only B's attempt.
#[test]
fn a_stale_delivery_claim_cannot_overwrite_the_next_owner() {
    let (server, a) = fresh();
    let b = store_on(&server, a.prefix().trim_end_matches("store:"));
    block_on(async {
        seed_endpoint(&a, "app", "ep").await;
        a.insert_deliveries(&[new_delivery("ep", "d", 0)])
            .await
            .unwrap();
        let held_a = a.claim_due_deliveries(0, 0, 100, 10).await.unwrap();
        let held_b = b.claim_due_deliveries(100, 100, 200, 10).await.unwrap();
        assert_eq!((held_a.len(), held_b.len()), (1, 1));
        let won = b
            .finish_attempt(
                "d",
                held_b[0].lease,
                Some(&ok_attempt(150)),
                &NextState::Delivered,
                150,
            )
            .await
            .unwrap();
        assert!(won);
        let late = AttemptRecord {
            status_code: Some(503),
            ..ok_attempt(160)
        };
        let retry = NextState::Retry { at_ms: 9_000 };
        let lost = a
            .finish_attempt("d", held_a[0].lease, Some(&late), &retry, 160)
            .await
            .unwrap();
        assert!(!lost, "A is told its lease was taken over");
        let d = b.get_delivery("d").await.unwrap();
        assert_eq!(d.status, DeliveryStatus::Delivered, "B's result stands");
        let log = b.delivery_log("ep", None, 10).await.unwrap();
        assert_eq!(log.items.len(), 1, "A's late attempt is not logged");
        assert!(a
            .claim_due_deliveries(10_000, 10_000, 10_100, 10)
            .await
            .unwrap()
            .is_empty());
    });
}

/// The same for notifications: A's late reschedule after B claimed it does not undo B's claim.
#[test]
fn a_stale_notification_claim_cannot_overwrite_the_next_owner() {
    let (server, a) = fresh();
    let b = store_on(&server, a.prefix().trim_end_matches("store:"));
    block_on(async {
        let note = NewNotification {
            id: "n".into(),
            app_id: "app".into(),
            client_id: None,
            channel: "news".into(),
            user_id: None,
            event: "reminder".into(),
            payload: b"{}".to_vec(),
            due_at_ms: 0,
        };
        a.insert_notifications(&[note], 0).await.unwrap();
        assert_eq!(
            a.claim_due_notifications(0, 0, 100, 10)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            b.claim_due_notifications(0, 100, 100, 10)
                .await
                .unwrap()
                .len(),
            1
        );
        let later = NotificationOutcome::Reschedule { at_ms: 50_000 };
        a.settle_notification("n", &later, 120).await.unwrap();
        let n = b.get_notification("app", "n").await.unwrap();
        assert_eq!(
            (n.due_at_ms, n.attempts),
            (0, 0),
            "A's reschedule was dropped"
        );
        b.settle_notification("n", &NotificationOutcome::Delivered, 130)
            .await
            .unwrap();
        let n = b.get_notification("app", "n").await.unwrap();
        assert_eq!((n.status, n.attempts), (NotificationStatus::Delivered, 1));
    });
}

/// Scripts survive a server that forgot them (a restart, SCRIPT FLUSH): NOSCRIPT falls back.
#[test]
fn scripts_are_reloaded_after_a_flush() {
    let (_server, s) = fresh();
    block_on(async {
        seed_endpoint(&s, "app", "one").await;
        s.command(&[b"SCRIPT", b"FLUSH"]).await.unwrap();
        seed_endpoint(&s, "app", "two").await;
        assert_eq!(s.all_endpoints().await.unwrap().len(), 2);
    });
}

/// A script's error line becomes the typed error, with an id that holds spaces kept whole.
#[test]
fn error_lines_become_typed_errors() {
    use redis_protocol::resp2::types::OwnedFrame;
    let err = |line: &str| super::reply(OwnedFrame::Error(line.to_owned())).unwrap_err();
    assert!(matches!(
        err("CONFLICT notification delivered order 7"),
        crate::store::StoreError::Conflict { what: "notification", id, status: "delivered" }
            if id == "order 7"
    ));
    assert!(matches!(
        err("NOTFOUND endpoint - ep 1"),
        crate::store::StoreError::NotFound { what: "endpoint", id } if id == "ep 1"
    ));
    assert!(matches!(
        err("ERR user_script:3: oops"),
        crate::store::StoreError::Backend(_)
    ));
}

/// A Redis that stalls fails the call within the call timeout; once it answers again, the
/// store works on a fresh connection (the stalled one, whose reply is late, is not reused).
#[test]
fn a_stalled_redis_fails_the_call_and_the_store_recovers() {
    let server = RedisServer::start(&[]);
    let s = store_on(&server, "stall:");
    block_on(async {
        seed_endpoint(&s, "app", "ep").await;
        s.command(&[b"CLIENT", b"PAUSE", b"6000", b"ALL"])
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let err = s.list_endpoints("app").await.unwrap_err();
        assert!(err.to_string().contains("did not answer"), "{err}");
        assert!(started.elapsed() < Duration::from_millis(5_900), "bounded");
        monoio::time::sleep(Duration::from_millis(1_500)).await;
        assert_eq!(s.list_endpoints("app").await.unwrap().len(), 1);
    });
}

/// Notification claims never settled here (another node took over and settled) are
/// forgotten an hour after their lease, so the map of fencing tokens stays bounded; live ones
/// are kept.
#[test]
fn claims_never_settled_here_are_forgotten() {
    const HOUR: i64 = 3_600_000;
    let (server, a) = fresh();
    let b = store_on(&server, a.prefix().trim_end_matches("store:"));
    let note = |id: &str, due_at_ms: i64| NewNotification {
        id: id.into(),
        app_id: "app".into(),
        client_id: None,
        channel: "news".into(),
        user_id: None,
        event: "reminder".into(),
        payload: b"{}".to_vec(),
        due_at_ms,
    };
    block_on(async {
        a.insert_notifications(&[note("old", 0), note("new", HOUR)], 0)
            .await
            .unwrap();
        a.claim_due_notifications(0, 0, 1_000, 10).await.unwrap();
        b.claim_due_notifications(1_000, 1_000, 1_000, 10)
            .await
            .unwrap();
        b.settle_notification("old", &NotificationOutcome::Delivered, 1_500)
            .await
            .unwrap();
        a.claim_due_notifications(HOUR / 2, HOUR / 2, 1_000, 10)
            .await
            .unwrap();
        assert!(
            a.notification_claims.borrow().contains_key("old"),
            "half an hour: kept"
        );
        let live = a
            .claim_due_notifications(2 * HOUR, 2 * HOUR, 1_000, 10)
            .await
            .unwrap();
        assert_eq!(live.len(), 1);
        let kept: Vec<String> = a.notification_claims.borrow().keys().cloned().collect();
        assert_eq!(kept, ["new"], "only the live claim is kept");
    });
}

/// The `/metrics` gauges: deliveries pending or waiting (leased ones too), breakers open now.
#[test]
fn gauges_count_the_queue_and_open_breakers() {
    use crate::store::EndpointStore;
    use crate::webhook::breaker::BreakerState;
    let (_server, s) = fresh();
    block_on(async {
        seed_endpoint(&s, "app", "ep").await;
        seed_endpoint(&s, "app", "calm").await;
        s.insert_deliveries(&[new_delivery("ep", "a", 0), new_delivery("ep", "b", 0)])
            .await
            .unwrap();
        let held = s.claim_due_deliveries(0, 0, 1_000, 1).await.unwrap();
        let open = BreakerState {
            consecutive_failures: 5,
            open_until_ms: Some(5_000),
            probing: false,
        };
        s.put_breaker("ep", &open).await.unwrap();
        s.put_breaker("calm", &BreakerState::default())
            .await
            .unwrap();
        let g = s.webhook_gauges(1_000).await.unwrap();
        assert_eq!((g.queued, g.breakers_open), (2, 1));
        s.finish_attempt("b", 0, None, &NextState::Delivered, 2_000)
            .await
            .unwrap();
        assert_eq!(held[0].id, "a", "b was never claimed: token 0 finishes it");
        let g = s.webhook_gauges(6_000).await.unwrap();
        assert_eq!((g.queued, g.breakers_open), (1, 0));
    });
}
