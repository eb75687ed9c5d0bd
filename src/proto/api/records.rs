//! Record changes as the app reports them, sans-IO: the body of `POST /apps/{id}/records`, and
//! the same change sent as a Pusher event (`created` / `updated` / `deleted` on
//! `{prefix}{collection}` with Velo's payload `{action, record}`).
//!
//! Bodies: one change `{collection, action, record, previous?, socket_id?}`, or a batch of up to
//! [`MAX_RECORDS_PER_REQUEST`] as `{"records": [change, …], "socket_id"?}` or a bare array. A
//! batch is all or nothing: the first bad change is named by its index and nothing is sent.
//! `record` (and `previous`) must be JSON objects; filters read their fields.

use serde_json::Value;

use super::realtime::{RealtimeError, MAX_RECORDS_PER_REQUEST};
use super::records_body::{Body, ChangeBody, CHANGE_FIELDS};
use crate::proto::filter::Action;

/// One reported change.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordChange {
    /// The collection's name.
    pub collection: String,
    /// What happened.
    pub action: Action,
    /// The record after the change (for a delete, as it was).
    pub record: Value,
    /// The record before an update, when the app knows it.
    pub previous: Option<Value>,
}

/// A parsed ingestion request.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordBatch {
    /// The changes, in order.
    pub changes: Vec<RecordChange>,
    /// A socket that must not receive them (the one that made the change), as written.
    pub socket_id: Option<String>,
}

/// Parses the body of `POST /apps/{id}/records`, in one pass (see [`records_body`]).
pub fn parse_records(body: &[u8]) -> Result<RecordBatch, RealtimeError> {
    let (items, count, socket_id, single) = match serde_json::from_slice(body).map_err(bad)? {
        Body::Batch {
            items,
            count,
            socket_id,
        } => (items, count, socket_id, false),
        Body::One(item) => (vec![item], 1, None, true),
    };
    if count == 0 {
        return Err(RealtimeError::BadBody("the batch has no records".into()));
    }
    if count > MAX_RECORDS_PER_REQUEST {
        return Err(RealtimeError::BadBody(format!(
            "{count} records in one request; send at most {MAX_RECORDS_PER_REQUEST}"
        )));
    }
    let mut batch = RecordBatch {
        changes: Vec::with_capacity(items.len()),
        socket_id,
    };
    for (i, item) in items.into_iter().enumerate() {
        let (change, socket_id) = item.and_then(change_from).map_err(|e| at(i, single, &e))?;
        if single {
            batch.socket_id = socket_id;
        }
        batch.changes.push(change);
    }
    Ok(batch)
}

/// The change carried by a Pusher event on a collection channel: `None` when `event` is not
/// `created`, `updated` or `deleted` (an ordinary event on that channel).
pub fn change_of_event(
    collection: &str,
    event: &str,
    data: &str,
) -> Option<Result<RecordChange, RealtimeError>> {
    let action = action_of(event).ok()?;
    let parsed = serde_json::from_str::<Value>(data)
        .map_err(bad)
        .and_then(|payload| {
            let record = payload.get("record").cloned();
            let record = object("record", record)?;
            Ok(RecordChange {
                collection: collection.to_owned(),
                action,
                record,
                previous: payload.get("previous").cloned().filter(|p| !p.is_null()),
            })
        });
    Some(parsed)
}

/// The change `body` describes, and the socket it excludes; a field it does not know, or a
/// text field that is not a string, is refused by name, before what is missing or malformed.
fn change_from(body: ChangeBody) -> Result<(RecordChange, Option<String>), String> {
    let collection = text("collection", body.collection)?;
    let action = text("action", body.action)?;
    let socket_id = text("socket_id", body.socket_id)?;
    if let Some(unknown) = body.unknown {
        return Err(format!(
            "unknown field `{unknown}`, expected one of {CHANGE_FIELDS}"
        ));
    }
    let collection = collection
        .filter(|c| !c.is_empty())
        .ok_or("missing collection (the collection's name)")?;
    let action = action_of(action.as_deref().unwrap_or_default())?;
    let record = object("record", body.record).map_err(|e| e.to_string())?;
    let previous = match body.previous {
        None => None,
        some => Some(object("previous", some).map_err(|e| e.to_string())?),
    };
    let change = RecordChange {
        collection,
        action,
        record,
        previous,
    };
    Ok((change, socket_id))
}

/// A text field: absent, or a string. The value is not echoed: it may be a whole record.
fn text(field: &str, value: Option<Value>) -> Result<Option<String>, String> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{field} must be a string")),
    }
}

fn action_of(text: &str) -> Result<Action, String> {
    match text {
        "created" => Ok(Action::Created),
        "updated" => Ok(Action::Updated),
        "deleted" => Ok(Action::Deleted),
        other => Err(format!(
            "action '{other}' is not one of created, updated, deleted"
        )),
    }
}

fn object(field: &str, value: Option<Value>) -> Result<Value, RealtimeError> {
    match value {
        Some(v @ Value::Object(_)) => Ok(v),
        Some(_) => Err(RealtimeError::BadBody(format!(
            "{field} must be a JSON object"
        ))),
        None => Err(RealtimeError::BadBody(format!("missing {field}"))),
    }
}

fn bad(e: serde_json::Error) -> RealtimeError {
    RealtimeError::BadBody(e.to_string())
}

fn at(i: usize, single: bool, why: &dyn std::fmt::Display) -> RealtimeError {
    match single {
        true => RealtimeError::BadBody(why.to_string()),
        false => RealtimeError::BadBody(format!("records[{i}]: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::proto::filter::index_tests::action;

    fn parse(v: Value) -> Result<RecordBatch, RealtimeError> {
        parse_records(v.to_string().as_bytes())
    }

    #[test]
    fn one_change_a_records_batch_and_an_array_are_accepted() {
        let one = json!({"collection": "posts", "action": "updated", "record": {"id": 1},
            "previous": {"id": 1, "status": "x"}, "socket_id": "1.2"});
        let batch = parse(one.clone()).unwrap();
        assert_eq!(batch.socket_id.as_deref(), Some("1.2"));
        assert_eq!(batch.changes[0].action, Action::Updated);
        assert!(batch.changes[0].previous.is_some());
        let wrapped = parse(json!({"records": [one.clone(), one.clone()]})).unwrap();
        assert_eq!(wrapped.changes.len(), 2);
        assert_eq!(parse(json!([one])).unwrap().changes.len(), 1);
    }

    #[test]
    fn bad_changes_are_named_and_refuse_the_whole_batch() {
        let good = json!({"collection": "posts", "action": "created", "record": {"id": 1}});
        let bad_action = json!({"collection": "posts", "action": "made", "record": {"id": 1}});
        let err = parse(json!([good, bad_action])).unwrap_err().to_string();
        assert!(
            err.contains("records[1]") && err.contains("'made'"),
            "{err}"
        );
        let scalar = json!({"collection": "posts", "action": "created", "record": 3});
        assert!(parse(scalar)
            .unwrap_err()
            .to_string()
            .contains("JSON object"));
        assert!(parse(json!([])).is_err());
        // Not a batch's shape: read as one change, whose unknown field is named.
        let not_a_batch = parse(json!({"records": 3})).unwrap_err().to_string();
        assert!(
            not_a_batch.contains("unknown field `records`"),
            "{not_a_batch}"
        );
        let numbered = json!({"collection": 5, "action": "created", "record": {"id": 1}});
        let err = parse(json!([good.clone(), numbered]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("records[1]: collection must be a string"),
            "{err}"
        );
        let err = parse(json!([3])).unwrap_err().to_string();
        assert!(err.contains("must be a JSON object"), "{err}");
        let bad_socket = json!({"records": [good.clone()], "socket_id": 5});
        assert!(parse(bad_socket).is_err());
        let many: Vec<Value> = (0..=MAX_RECORDS_PER_REQUEST)
            .map(|_| good.clone())
            .collect();
        assert!(parse(Value::Array(many))
            .unwrap_err()
            .to_string()
            .contains("at most"));
    }

    #[test]
    fn the_shape_is_decided_as_the_body_is_read() {
        let good = json!({"collection": "posts", "action": "created", "record": {"id": 1}});
        let err = |v: Value| parse(v).unwrap_err().to_string();
        // A batch whose socket_id is not text is read as one change, whose text fields are
        // checked before its unknown ones.
        let e = err(json!({"records": [good.clone()], "socket_id": 5}));
        assert!(e.contains("socket_id must be a string"), "{e}");
        // A batch object's other fields are ignored, as they always were.
        let batch = parse(json!({"records": [good.clone()], "socket_id": "1.2", "x": 1})).unwrap();
        assert_eq!(
            (batch.changes.len(), batch.socket_id.as_deref()),
            (1, Some("1.2"))
        );
        // A scalar or an array is not a change; a batch element that is one is named.
        assert!(err(json!(3)).contains("must be a JSON object"));
        let e = err(json!([good.clone(), [1, 2]]));
        assert!(
            e.contains("records[1]: a change must be a JSON object"),
            "{e}"
        );
        // The count over the limit is reported whole, the elements past it unread.
        let many = vec![json!(0); MAX_RECORDS_PER_REQUEST + 5];
        let e = err(json!({ "records": many }));
        assert!(
            e.contains(&format!("{} records", MAX_RECORDS_PER_REQUEST + 5)),
            "{e}"
        );
        // JSON that does not parse names where.
        let e = parse_records(br#"{"collection": "posts", "#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1"), "{e}");
        // A single change's socket_id is the batch's; null fields read as absent.
        let one = json!({"collection": "posts", "action": "deleted", "record": {"id": 2},
            "previous": null, "socket_id": "3.4"});
        let batch = parse(one).unwrap();
        assert_eq!(batch.socket_id.as_deref(), Some("3.4"));
        assert_eq!(batch.changes[0].previous, None);
    }

    proptest! {
        #[test]
        fn any_bytes_are_parsed_or_refused_without_panicking(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_records(&body);
        }

        #[test]
        fn written_changes_parse_back(
            items in proptest::collection::vec(("[a-z]{1,8}", action(), any::<i64>(), ".{0,12}"), 1..20),
        ) {
            let written: Vec<Value> = items
                .iter()
                .map(|(c, a, id, s)| json!({"collection": c, "action": a.name(), "record": {"id": id, "s": s}}))
                .collect();
            let batch = parse(json!({ "records": written })).unwrap();
            prop_assert_eq!(batch.changes.len(), items.len());
            for (change, (c, a, id, s)) in batch.changes.iter().zip(&items) {
                prop_assert_eq!(&change.collection, c);
                prop_assert_eq!(change.action, *a);
                prop_assert_eq!(&change.record, &json!({"id": id, "s": s}));
            }
        }
    }

    #[test]
    fn pusher_events_named_like_actions_are_changes() {
        let data = json!({"action": "created", "record": {"id": 7}}).to_string();
        let change = change_of_event("posts", "created", &data).unwrap().unwrap();
        assert_eq!(
            (change.action, change.record["id"].as_i64()),
            (Action::Created, Some(7))
        );
        assert!(change_of_event("posts", "something", &data).is_none());
        assert!(change_of_event("posts", "deleted", "{}").unwrap().is_err());
    }
}
