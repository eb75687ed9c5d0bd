//! Health endpoints for load balancers and orchestrators.

use crate::proto::http::Response;
use crate::shard::Port;

/// `GET /up`: the process is serving.
pub fn up() -> Response {
    Response::json(200, r#"{"health":"OK"}"#)
}

/// `GET /api/v1/websocket/health`: status and open connections, in total and per shard.
pub fn websocket_health(port: &Port) -> Response {
    let per_shard: Vec<u64> = port
        .shared()
        .connections
        .iter()
        .map(|c| c.load(std::sync::atomic::Ordering::Relaxed))
        .collect();
    let body = serde_json::json!({
        "status": "ok",
        "connections": per_shard.iter().sum::<u64>(),
        "shards": per_shard,
        "workers": port.config().workers,
    });
    Response::json(200, body.to_string())
}
