//! `/apps/{id}/notifications…`: schedule (one or a batch), show, cancel and list notifications.
//!
//! Requests arrive already signed and checked like every REST call. Bodies are validated with
//! `proto::api::notifications` against the app's settings (channel template, quiet hours), and
//! an accepted notification is stored on the control core before the 201, so an answered
//! create is never lost. The control core's delivery loop publishes it when due; this handler
//! never publishes.

use jiff::Timestamp;
use serde_json::{json, Value};

use super::webhooks::failure;
use crate::config::notification_settings;
use crate::control::{Answer, Request};
use crate::proto::api::notifications::{
    batch_body, cancel_response, created_body, parse_batch, parse_create, parse_id,
    parse_list_query, Created, NotificationError, NotificationRequest, NotificationView, Status,
};
use crate::proto::http::{self, Response};
use crate::scheduler::Payload;
use crate::shard::Port;
use crate::store::{Inserted, NewNotification, Notification, StoreError};

/// Routes `segments` (the path after `/apps/{id}/notifications`).
pub async fn route(
    port: &Port,
    app: usize,
    method: &str,
    segments: &[&str],
    params: &[(String, String)],
    body: &[u8],
) -> Response {
    let app_id = port.config().apps[app].id.clone();
    match (method, segments) {
        ("POST", []) => create(port, app, body).await,
        ("POST", ["batch"]) => batch(port, app, body).await,
        ("GET", []) => list(port, app_id, params).await,
        ("GET", [nid]) => show(port, app_id, nid).await,
        ("DELETE", [nid]) => cancel(port, app_id, nid).await,
        _ => Response::error(404, &format!("no notifications route for {method}")),
    }
}

async fn create(port: &Port, app: usize, body: &[u8]) -> Response {
    let settings = notification_settings(&port.config().apps[app]);
    let Some(random) = seed() else {
        return no_randomness();
    };
    let request = match parse_create(body, &settings, Timestamp::now(), random) {
        Ok(r) => r,
        Err(e) => return e.to_response(),
    };
    let app_id = port.config().apps[app].id.clone();
    let new = vec![stored(app_id, request)];
    match port.ask_control(Request::ScheduleNotifications(new)).await {
        Some(Ok(Answer::Scheduled(mut rows))) if rows.len() == 1 => {
            match created(&rows.remove(0)) {
                Ok(c) => Response::json(201, created_body(&c)),
                Err(resp) => resp,
            }
        }
        other => failure(other),
    }
}

/// Stores the valid items of a batch in one transaction and answers per item.
async fn batch(port: &Port, app: usize, body: &[u8]) -> Response {
    let settings = notification_settings(&port.config().apps[app]);
    let Some(base) = seed() else {
        return no_randomness();
    };
    // One draw for the whole batch: consecutive values keep the ids distinct.
    let mut n = 0u128;
    let mut random = || {
        n += 1;
        base.wrapping_add(n)
    };
    let items = match parse_batch(body, &settings, Timestamp::now(), &mut random) {
        Ok(items) => items,
        Err(e) => return e.to_response(),
    };
    let app_id = port.config().apps[app].id.clone();
    let valid: Vec<NewNotification> = items
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|r| stored(app_id.clone(), r.clone()))
        .collect();
    let mut rows = if valid.is_empty() {
        Vec::new().into_iter()
    } else {
        match port
            .ask_control(Request::ScheduleNotifications(valid))
            .await
        {
            Some(Ok(Answer::Scheduled(rows))) => rows.into_iter(),
            other => return failure(other),
        }
    };
    let mut results: Vec<Result<Created, NotificationError>> = Vec::with_capacity(items.len());
    for item in items {
        // Only a valid item was stored, so only a valid one takes the next row.
        results.push(match item {
            Err(e) => Err(e),
            Ok(_) => match rows.next().map(|row| created(&row)) {
                Some(Ok(c)) => Ok(c),
                Some(Err(resp)) => return resp,
                None => return Response::error(500, "the store answered too few items"),
            },
        });
    }
    let status = if results.iter().all(Result::is_ok) {
        201
    } else {
        200
    };
    Response::json(status, batch_body(&results))
}

async fn show(port: &Port, app_id: String, nid: &str) -> Response {
    let id = match parse_id(nid) {
        Ok(id) => id.to_owned(),
        Err(e) => return e.to_response(),
    };
    match port
        .ask_control(Request::GetNotification { app_id, id })
        .await
    {
        Some(Ok(Answer::Notification(n))) => match view(&n) {
            Ok(v) => Response::json(200, v.body()),
            Err(resp) => resp,
        },
        other => failure(other),
    }
}

async fn cancel(port: &Port, app_id: String, nid: &str) -> Response {
    let id = match parse_id(nid) {
        Ok(id) => id.to_owned(),
        Err(e) => return e.to_response(),
    };
    let request = Request::CancelNotification {
        app_id,
        id: id.clone(),
    };
    match port.ask_control(request).await {
        Some(Ok(Answer::Notification(_))) => cancel_response(&id, Status::Pending),
        Some(Err(StoreError::Conflict { status, .. })) => match status.parse() {
            Ok(now) => cancel_response(&id, now),
            Err(_) => Response::error(409, "the notification is no longer pending"),
        },
        other => failure(other),
    }
}

/// A page, newest first; `cursor` is the store's position, opaque to callers.
async fn list(port: &Port, app_id: String, params: &[(String, String)]) -> Response {
    let cursor = http::query_value(params, "cursor").filter(|c| !c.is_empty());
    let before = match cursor.map(str::parse::<i64>) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return NotificationError::InvalidCursor.to_response(),
    };
    // The cursor is handled above; the rest (status, user_id, limit) is the shared query.
    let rest: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "cursor")
        .cloned()
        .collect();
    let query = match parse_list_query(&rest) {
        Ok(q) => q,
        Err(e) => return e.to_response(),
    };
    let request = Request::ListNotifications {
        app_id,
        status: query.status,
        user_id: query.user_id,
        before,
        limit: query.limit,
    };
    match port.ask_control(request).await {
        Some(Ok(Answer::Notifications(page))) => {
            let mut items: Vec<Value> = Vec::with_capacity(page.items.len());
            for n in &page.items {
                match view(n) {
                    Ok(v) => items.push(v.to_json()),
                    Err(resp) => return resp,
                }
            }
            let next = page.next.map(|seq| seq.to_string());
            Response::json(
                200,
                json!({ "notifications": items, "next_cursor": next }).to_string(),
            )
        }
        other => failure(other),
    }
}

/// The row to store for an accepted request.
fn stored(app_id: String, r: NotificationRequest) -> NewNotification {
    let payload = Payload {
        data_literal: r.data_literal,
        scheduled_at_ms: r.scheduled_at.as_millisecond(),
        timezone: r.timezone,
    };
    NewNotification {
        id: r.id,
        app_id,
        client_id: r.client_id,
        channel: r.channel,
        user_id: r.user_id,
        event: r.event,
        payload: payload.encode(),
        due_at_ms: r.deliver_at.as_millisecond(),
    }
}

/// The create answer for a stored row (the first one's, for a repeated client id).
fn created(row: &Inserted) -> Result<Created, Response> {
    let v = view(&row.notification)?;
    Ok(Created {
        id: v.id,
        scheduled_at: v.scheduled_at,
        deliver_at: v.deliver_at,
    })
}

/// How a stored notification is shown.
fn view(n: &Notification) -> Result<NotificationView, Response> {
    let corrupt = |why: String| {
        tracing::error!(id = %n.id, error = %why, "unreadable stored notification");
        Response::error(500, &format!("notification {} is stored unreadably", n.id))
    };
    let payload = Payload::decode(&n.payload).map_err(|e| corrupt(e.to_string()))?;
    let at = |ms: i64| Timestamp::from_millisecond(ms).map_err(|e| corrupt(e.to_string()));
    Ok(NotificationView {
        id: n.id.clone(),
        status: n.status,
        channel: n.channel.clone(),
        user_id: n.user_id.clone(),
        event: n.event.clone(),
        scheduled_at: at(payload.scheduled_at_ms)?,
        deliver_at: at(n.due_at_ms)?,
        delivered_at: match n.status {
            Status::Delivered => Some(at(n.updated_at_ms)?),
            _ => None,
        },
        attempts: n.attempts,
        last_error: n.reason.clone(),
    })
}

/// 128 bits from the OS random generator.
fn seed() -> Option<u128> {
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).ok()?;
    Some(u128::from_le_bytes(raw))
}

fn no_randomness() -> Response {
    tracing::error!("no randomness for a notification id");
    Response::error(500, "the server could not generate an id; retry")
}
