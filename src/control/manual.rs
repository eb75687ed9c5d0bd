//! Deliveries asked for by a person through the API rather than by a published event: a test
//! delivery to one endpoint, and the replay of one recorded delivery.
//!
//! Both only write the store; the delivery loop picks the row up on its next poll and sends it
//! through the normal signed path (breaker, rate limit, retries, log), so a test shows exactly
//! what a real event would meet. Both are scoped to the asking app: another app's endpoint is
//! answered like an absent one.

use crate::store::{Delivery, DeliveryStore, EndpointStore, NewDelivery, StoreError};
use crate::webhook::body::{business_body, pusher_body, BusinessEvent};
use crate::webhook::endpoint::Format;
use crate::webhook::signing::new_message_id;

/// The event type of a test delivery.
pub const TEST_EVENT: &str = "webhook.test";

/// The `data` of a test delivery's business body.
const TEST_DATA: &str = r#"{"message":"test delivery from ringcast"}"#;

/// Records a test delivery to endpoint `id` of `app_id`, due now; returns it.
///
/// A standard endpoint gets a business body of type [`TEST_EVENT`]; a pusher-format endpoint
/// gets `{time_ms, events: []}`, which the Pusher SDKs' verifiers accept like any batch.
pub async fn test_delivery<S: EndpointStore + DeliveryStore>(
    store: &S,
    app_id: &str,
    id: &str,
    now_ms: i64,
) -> Result<Delivery, StoreError> {
    let ep = store.get_endpoint(app_id, id).await?;
    let message_id = new_message_id(now_ms).map_err(|e| StoreError::Backend(e.to_string()))?;
    let body = match ep.format {
        Format::Standard => business_body(&BusinessEvent {
            id: &message_id,
            event: TEST_EVENT,
            at_ms: now_ms,
            channels: &[],
            data: TEST_DATA,
        }),
        Format::Pusher => pusher_body(now_ms, &[]),
    };
    let new = NewDelivery {
        id: message_id.clone(),
        endpoint_id: ep.id,
        event: TEST_EVENT.to_owned(),
        body,
        created_at_ms: now_ms,
        next_attempt_at_ms: now_ms,
    };
    store.insert_deliveries(std::slice::from_ref(&new)).await?;
    super::due::ring(now_ms);
    store.get_delivery(&message_id).await
}

/// Replays delivery `delivery_id` of endpoint `id` of `app_id`: pending again, due now, with
/// the same `webhook-id` and body.
pub async fn retry_delivery<S: EndpointStore + DeliveryStore>(
    store: &S,
    app_id: &str,
    id: &str,
    delivery_id: &str,
    now_ms: i64,
) -> Result<Delivery, StoreError> {
    store.get_endpoint(app_id, id).await?;
    let replayed = store.requeue_delivery(id, delivery_id, now_ms).await?;
    super::due::ring(now_ms);
    Ok(replayed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract::{block_on, new_endpoint};
    use crate::store::{DeliveryStatus, SqliteStore};
    use crate::webhook::retry::NextState;

    /// A fresh store holding app `a`'s standard endpoint `std`; keep the directory alive.
    fn store_with_endpoint() -> (tempfile::TempDir, SqliteStore) {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(tmp.path()).unwrap();
        block_on(store.create_endpoint(new_endpoint("a", "std", 1))).unwrap();
        (tmp, store)
    }

    #[test]
    fn a_test_delivery_is_due_now_in_the_endpoints_format() {
        let (_tmp, store) = store_with_endpoint();
        block_on(async {
            let mut pusher = new_endpoint("a", "psh", 1);
            pusher.spec.format = Format::Pusher;
            store.create_endpoint(pusher).await.unwrap();
            let d = test_delivery(&store, "a", "std", 50).await.unwrap();
            assert_eq!((d.event.as_str(), d.next_attempt_at_ms), (TEST_EVENT, 50));
            let body: serde_json::Value = serde_json::from_slice(&d.body).unwrap();
            assert_eq!(
                (&body["type"], &body["id"]),
                (&TEST_EVENT.into(), &d.id.clone().into())
            );
            let p = test_delivery(&store, "a", "psh", 60).await.unwrap();
            assert_eq!(p.body, br#"{"time_ms":60,"events":[]}"#);
            let other_app = test_delivery(&store, "b", "std", 70).await;
            assert!(matches!(
                other_app,
                Err(StoreError::NotFound {
                    what: "endpoint",
                    ..
                })
            ));
        });
    }

    #[test]
    fn a_retry_requeues_the_same_delivery_and_refuses_unknown_ids() {
        let (_tmp, store) = store_with_endpoint();
        block_on(async {
            let d = test_delivery(&store, "a", "std", 50).await.unwrap();
            let held = store.claim_due_deliveries(50, 50, 1050, 10).await.unwrap();
            store
                .finish_attempt(&d.id, held[0].lease, None, &NextState::Failed, 60)
                .await
                .unwrap();
            let again = retry_delivery(&store, "a", "std", &d.id, 90).await.unwrap();
            assert_eq!(
                (again.id.as_str(), again.body.as_slice()),
                (d.id.as_str(), d.body.as_slice())
            );
            assert_eq!(
                (again.status, again.next_attempt_at_ms),
                (DeliveryStatus::Pending, 90)
            );
            let missing = retry_delivery(&store, "a", "std", "msg_none", 90).await;
            assert!(matches!(
                missing,
                Err(StoreError::NotFound {
                    what: "delivery",
                    ..
                })
            ));
            let wrong_app = retry_delivery(&store, "b", "std", &d.id, 90).await;
            assert!(matches!(
                wrong_app,
                Err(StoreError::NotFound {
                    what: "endpoint",
                    ..
                })
            ));
        });
    }
}
