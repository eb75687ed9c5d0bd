//! Runs one [`Request`] against the store on the control core.
//!
//! Owns the mapping from operations to store calls, including the checks that span two calls
//! (a delivery log is only shown for an endpoint of the asking app). It never runs on a shard.

use std::cell::RefCell;

use super::config_hooks::is_config_id;
use super::directory::Directory;
use super::manual::{retry_delivery, test_delivery};
use super::msg::{Answer, Request};
use super::record::record;
use crate::store::{
    DeliveryStore, EndpointStore, NotificationFilter, NotificationStore, StoreError,
};

/// Executes `request` at `now_ms` (unix milliseconds); publishes are matched against `dir`.
pub async fn execute<S: EndpointStore + DeliveryStore + NotificationStore>(
    store: &S,
    dir: &RefCell<Directory>,
    request: Request,
    now_ms: i64,
) -> Result<Answer, StoreError> {
    Ok(match request {
        Request::CreateEndpoint(new) => {
            Answer::Endpoint(Box::new(store.create_endpoint(new).await?))
        }
        Request::ListEndpoints { app_id } => {
            Answer::Endpoints(store.list_endpoints(&app_id).await?)
        }
        Request::GetEndpoint { app_id, id } => {
            Answer::Endpoint(Box::new(store.get_endpoint(&app_id, &id).await?))
        }
        Request::UpdateEndpoint { app_id, id, patch } => {
            refuse_config_owned(store, &app_id, &id).await?;
            let updated = store.update_endpoint(&app_id, &id, &patch, now_ms).await?;
            Answer::Endpoint(Box::new(updated))
        }
        Request::DeleteEndpoint { app_id, id } => {
            refuse_config_owned(store, &app_id, &id).await?;
            store.delete_endpoint(&app_id, &id).await?;
            Answer::Deleted
        }
        Request::DeliveryLog {
            app_id,
            id,
            before,
            limit,
        } => {
            // Another app's endpoint answers NotFound, like an absent one.
            store.get_endpoint(&app_id, &id).await?;
            Answer::Log(store.delivery_log(&id, before, limit).await?)
        }
        Request::Stats { app_id, since_ms } => {
            Answer::Stats(store.endpoint_stats(&app_id, since_ms).await?)
        }
        Request::Publish { app_id, events } => {
            Answer::Recorded(record(store, dir, &app_id, &events, now_ms).await?)
        }
        Request::TestEndpoint { app_id, id } => {
            Answer::Delivery(Box::new(test_delivery(store, &app_id, &id, now_ms).await?))
        }
        Request::RetryDelivery {
            app_id,
            id,
            delivery_id,
        } => {
            let requeued = retry_delivery(store, &app_id, &id, &delivery_id, now_ms);
            Answer::Delivery(Box::new(requeued.await?))
        }
        Request::ScheduleNotifications(batch) => {
            Answer::Scheduled(store.insert_notifications(&batch, now_ms).await?)
        }
        Request::GetNotification { app_id, id } => {
            Answer::Notification(Box::new(store.get_notification(&app_id, &id).await?))
        }
        Request::CancelNotification { app_id, id } => Answer::Notification(Box::new(
            store.cancel_notification(&app_id, &id, now_ms).await?,
        )),
        Request::ListNotifications {
            app_id,
            status,
            user_id,
            before,
            limit,
        } => {
            let filter = NotificationFilter {
                status,
                user_id: user_id.as_deref(),
            };
            let page = store.list_notifications(&app_id, &filter, before, limit);
            Answer::Notifications(page.await?)
        }
    })
}

/// A config-file endpoint (see `config_hooks`) is changed by editing the config and
/// restarting; through the API it is read-only. Another app's or an absent id stays NotFound.
async fn refuse_config_owned<S: EndpointStore>(
    store: &S,
    app_id: &str,
    id: &str,
) -> Result<(), StoreError> {
    if !is_config_id(id) {
        return Ok(());
    }
    store.get_endpoint(app_id, id).await?;
    Err(StoreError::ReadOnly {
        what: "endpoint",
        id: id.to_owned(),
        change_in: "the config file's [[apps]] webhooks (or REVERB_APP_WEBHOOKS)",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewEndpoint, SqliteStore};
    use crate::webhook::endpoint::{EndpointPatch, EndpointSpec, Format};

    fn spec() -> EndpointSpec {
        EndpointSpec {
            name: "orders".into(),
            url: "http://127.0.0.1:9/hook".into(),
            events: vec!["order.*".into()],
            tenant_id: None,
            is_active: true,
            max_retries: 5,
            retry_delays: vec![60],
            secret: None,
            headers: Default::default(),
            rate_limit_per_s: None,
            format: Format::Standard,
        }
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn operations_are_scoped_to_their_app() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(tmp.path()).unwrap();
        let dir = RefCell::new(Directory::default());
        run(async {
            let new = NewEndpoint {
                id: "ep_1".into(),
                app_id: "a".into(),
                spec: spec(),
                secret: "whsec_x".into(),
                now_ms: 1,
            };
            execute(&store, &dir, Request::CreateEndpoint(new), 1)
                .await
                .unwrap();
            let log = |app: &str| Request::DeliveryLog {
                app_id: app.into(),
                id: "ep_1".into(),
                before: None,
                limit: 10,
            };
            assert!(
                matches!(execute(&store, &dir, log("a"), 2).await, Ok(Answer::Log(p)) if p.items.is_empty())
            );
            assert!(matches!(
                execute(&store, &dir, log("b"), 2).await,
                Err(StoreError::NotFound { .. })
            ));
            let patch = EndpointPatch {
                name: Some("renamed".into()),
                ..Default::default()
            };
            let update = Request::UpdateEndpoint {
                app_id: "a".into(),
                id: "ep_1".into(),
                patch,
            };
            let Ok(Answer::Endpoint(ep)) = execute(&store, &dir, update, 5).await else {
                panic!("update failed");
            };
            assert_eq!((ep.name.as_str(), ep.updated_at_ms), ("renamed", 5));
            let delete = |app: &str| Request::DeleteEndpoint {
                app_id: app.into(),
                id: "ep_1".into(),
            };
            assert!(execute(&store, &dir, delete("b"), 6).await.is_err());
            assert!(matches!(
                execute(&store, &dir, delete("a"), 6).await,
                Ok(Answer::Deleted)
            ));
            let list = Request::ListEndpoints { app_id: "a".into() };
            assert!(
                matches!(execute(&store, &dir, list, 7).await, Ok(Answer::Endpoints(v)) if v.is_empty())
            );
        });
    }

    #[test]
    fn config_endpoints_are_read_only_and_hidden_from_other_apps() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(tmp.path()).unwrap();
        let dir = RefCell::new(Directory::default());
        run(async {
            let new = NewEndpoint {
                id: "cfg_0123".into(),
                app_id: "a".into(),
                spec: spec(),
                secret: "whsec_x".into(),
                now_ms: 1,
            };
            store.create_endpoint(new).await.unwrap();
            let update = |app: &str| Request::UpdateEndpoint {
                app_id: app.into(),
                id: "cfg_0123".into(),
                patch: EndpointPatch::default(),
            };
            let delete = |app: &str| Request::DeleteEndpoint {
                app_id: app.into(),
                id: "cfg_0123".into(),
            };
            for request in [update("a"), delete("a")] {
                let refused = execute(&store, &dir, request, 2).await;
                assert!(matches!(refused, Err(StoreError::ReadOnly { .. })));
            }
            for request in [update("b"), delete("b")] {
                let refused = execute(&store, &dir, request, 2).await;
                assert!(matches!(refused, Err(StoreError::NotFound { .. })));
            }
            assert!(store.get_endpoint("a", "cfg_0123").await.is_ok());
        });
    }
}
