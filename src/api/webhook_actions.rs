//! `POST /apps/{id}/webhooks/{wid}/test` and `POST …/{wid}/deliveries/{did}/retry`: a test
//! delivery to one endpoint and the replay of one delivery.
//!
//! Both answer 202 Accepted once the delivery is recorded (durable) on the control core, with
//! its id; the attempt itself runs on the delivery loop's next poll, and its outcome appears in
//! `GET …/{wid}/deliveries`. An unknown endpoint or delivery answers 404 naming the id.

use super::webhooks::failure;
use super::webhooks_json as render;
use crate::control::{Answer, Request};
use crate::proto::http::Response;
use crate::shard::Port;

/// Records a test delivery to endpoint `id`.
pub async fn test(port: &Port, app_id: String, id: &str) -> Response {
    let id = id.to_owned();
    recorded(port, Request::TestEndpoint { app_id, id }).await
}

/// Requeues delivery `delivery_id` of endpoint `id`.
pub async fn retry(port: &Port, app_id: String, id: &str, delivery_id: &str) -> Response {
    let request = Request::RetryDelivery {
        app_id,
        id: id.to_owned(),
        delivery_id: delivery_id.to_owned(),
    };
    recorded(port, request).await
}

async fn recorded(port: &Port, request: Request) -> Response {
    match port.ask_control(request).await {
        Some(Ok(Answer::Delivery(d))) => Response::json(202, render::delivery(&d).to_string()),
        other => failure(other),
    }
}
