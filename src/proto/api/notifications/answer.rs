//! The JSON answers of the notification endpoints, as pure functions of stored values.
//!
//! Owns the shapes a caller reads back: the create answer `{id, status:"pending", scheduled_at,
//! deliver_at}`, the per-item batch answer, the GET view, and list pages with their opaque
//! cursors (and the list query that carries them back). Times are RFC 3339 in UTC. It never
//! looks anything up: the handler fetches rows and hands them in.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jiff::Timestamp;
use serde_json::{json, Value};

use super::error::NotificationError;
use super::id::is_valid_id;
use crate::proto::http::{query_value, Response};

/// Most notifications on one list page, and the default.
pub const MAX_PAGE: usize = 1_000;
const DEFAULT_PAGE: usize = 100;

/// Where a notification is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Stored, waiting for its `deliver_at`.
    Pending,
    /// Published on its channel.
    Delivered,
    /// Given up on after its retries; the reason is kept.
    Failed,
    /// Cancelled by the app before delivery.
    Cancelled,
}

impl Status {
    /// The name used in answers and the `status` filter.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = NotificationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Status::Pending,
            Status::Delivered,
            Status::Failed,
            Status::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
        .ok_or_else(|| NotificationError::InvalidStatus(s.to_owned()))
    }
}

/// What a create answers (again, unchanged, for a repeated idempotency key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The notification id.
    pub id: String,
    /// When the caller asked for it.
    pub scheduled_at: Timestamp,
    /// When it goes out, after quiet hours.
    pub deliver_at: Timestamp,
}

impl Created {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "status": Status::Pending.as_str(),
            "scheduled_at": self.scheduled_at.to_string(),
            "deliver_at": self.deliver_at.to_string(),
        })
    }
}

/// The body of a 201 to `POST /apps/{id}/notifications`.
pub fn created_body(created: &Created) -> String {
    created.to_json().to_string()
}

/// The body of a batch answer, `{"results":[…]}` in request order: each item is the create
/// answer or `{"error": message, "code": status}`. The handler answers 201 when every item was
/// created, 200 otherwise.
pub fn batch_body(results: &[Result<Created, NotificationError>]) -> String {
    let items: Vec<Value> = results
        .iter()
        .map(|r| match r {
            Ok(created) => created.to_json(),
            Err(e) => json!({ "error": e.to_string(), "code": e.status() }),
        })
        .collect();
    json!({ "results": items }).to_string()
}

/// A stored notification as `GET /apps/{id}/notifications/{nid}` and the list show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationView {
    /// The notification id.
    pub id: String,
    /// Where it is in its life.
    pub status: Status,
    /// The channel it is (or was) published on.
    pub channel: String,
    /// The user it targets, when created with `user_id`.
    pub user_id: Option<String>,
    /// The event name.
    pub event: String,
    /// When the caller asked for it.
    pub scheduled_at: Timestamp,
    /// When it goes (or went) out, after quiet hours.
    pub deliver_at: Timestamp,
    /// When it was published, once delivered.
    pub delivered_at: Option<Timestamp>,
    /// Publish attempts so far.
    pub attempts: u32,
    /// Why the last attempt failed, if one did.
    pub last_error: Option<String>,
}

impl NotificationView {
    /// The JSON object the GET and list answers show.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "status": self.status.as_str(),
            "channel": self.channel,
            "user_id": self.user_id,
            "event": self.event,
            "scheduled_at": self.scheduled_at.to_string(),
            "deliver_at": self.deliver_at.to_string(),
            "delivered_at": self.delivered_at.map(|t| t.to_string()),
            "attempts": self.attempts,
            "last_error": self.last_error,
        })
    }

    /// The body of a 200 to `GET /apps/{id}/notifications/{nid}`.
    pub fn body(&self) -> String {
        self.to_json().to_string()
    }
}

/// The answer to `DELETE /apps/{id}/notifications/{nid}` for a notification now in `status`:
/// a pending one is cancelled (200, the caller stores that first), any other is a 409 that
/// says why nothing changed.
pub fn cancel_response(id: &str, status: Status) -> Response {
    match status {
        Status::Pending => Response::json(
            200,
            json!({ "id": id, "status": Status::Cancelled.as_str() }).to_string(),
        ),
        done => Response::error(
            409,
            &format!(
                "notification {id} is already {done}: only a pending notification can be cancelled"
            ),
        ),
    }
}

/// `GET /apps/{id}/notifications?status=…&user_id=…&cursor=…&limit=…`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Only notifications in this status.
    pub status: Option<Status>,
    /// Only notifications for this user.
    pub user_id: Option<String>,
    /// Continue after this notification id (ids sort by creation time).
    pub after: Option<String>,
    /// Most notifications on the page.
    pub limit: usize,
}

/// Parses the list query from decoded query pairs (auth parameters are ignored).
pub fn parse_list_query(params: &[(String, String)]) -> Result<ListQuery, NotificationError> {
    let present = |key| query_value(params, key).filter(|v| !v.is_empty());
    let limit = match present("limit") {
        None => DEFAULT_PAGE,
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| NotificationError::InvalidLimit {
                value: v.to_owned(),
                max: MAX_PAGE,
            })?,
    };
    Ok(ListQuery {
        status: present("status").map(str::parse).transpose()?,
        user_id: present("user_id").map(str::to_owned),
        after: present("cursor").map(decode_cursor).transpose()?,
        limit,
    })
}

/// The notification id a cursor continues after.
pub fn decode_cursor(cursor: &str) -> Result<String, NotificationError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|id| is_valid_id(id))
        .ok_or(NotificationError::InvalidCursor)
}

/// The cursor continuing after `id`: opaque to callers, so the paging key can change later.
fn encode_cursor(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

/// The body of a list page, `{"notifications":[…], "next_cursor": …}`. `rows` are in id order
/// and the store fetched one more than `limit`: that extra row only says another page exists.
pub fn list_body(rows: &[NotificationView], limit: usize) -> String {
    let page = &rows[..rows.len().min(limit)];
    let next = (rows.len() > limit)
        .then(|| page.last().map(|last| encode_cursor(&last.id)))
        .flatten();
    let items: Vec<Value> = page.iter().map(NotificationView::to_json).collect();
    json!({ "notifications": items, "next_cursor": next }).to_string()
}
