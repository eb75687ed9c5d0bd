//! What the control core does only when its store is shared with other nodes (scaling on):
//! the endpoint directory is a per-node cache of rows any node may change, so it is reloaded
//! every [`REFRESH`], and at once when a claimed delivery names an endpoint the cache lacks
//! (created on another node a moment ago), rather than failing that delivery.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use super::directory::Directory;
use crate::store::{AnyStore, Endpoint};

/// How stale another node's endpoint change may be here, at most.
pub const REFRESH: Duration = Duration::from_secs(1);

/// Reloads `dir` from `store` every [`REFRESH`] until `stop`, telling `publish` each time.
pub async fn refresh(
    store: Rc<AnyStore>,
    dir: Rc<RefCell<Directory>>,
    publish: impl Fn(&Directory),
    stop: impl Fn() -> bool,
) {
    while !stop() {
        monoio::time::sleep(REFRESH).await;
        reload(&store, &dir, &publish).await;
    }
}

async fn reload(store: &AnyStore, dir: &RefCell<Directory>, publish: &impl Fn(&Directory)) {
    match Directory::load(store).await {
        Ok(d) => {
            publish(&d);
            *dir.borrow_mut() = d;
        }
        Err(e) => tracing::warn!(error = %e, "cannot reload the shared endpoints"),
    }
}

/// The endpoint `id`: from the cache, else (shared store only) from a fresh load.
pub async fn endpoint(
    store: &AnyStore,
    dir: &RefCell<Directory>,
    id: &str,
) -> Option<Rc<Endpoint>> {
    let cached = dir.borrow().get(id).cloned();
    if cached.is_some() || matches!(store, AnyStore::Sqlite(_)) {
        return cached;
    }
    reload(store, dir, &|_: &Directory| {}).await;
    let fresh = dir.borrow().get(id).cloned();
    fresh
}
