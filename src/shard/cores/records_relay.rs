//! Record changes across nodes (scaling on). A batch ingested on one node travels to the others
//! as one relayed event per run of changes to the same collection, on that collection's
//! channel, under the internal event name [`RECORDS_EVENT`]. Its data is the `{"records": […]}`
//! body of `POST /apps/{id}/records`, `previous` included, so a receiving node reads it with the
//! same parser and evaluates its own subscribers' filters against the same record and previous
//! record: enters, leaves and deletes come out as on the ingesting node.
//!
//! The ordinary event relay carries them, so the control core and the envelope need nothing
//! new; a run goes to its channel's owner shard on every node (as any event on that channel),
//! which keeps one collection's changes in order there. The frame is never sent to a client.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::collections::{publish_remote, SharedChange};
use super::control;
use crate::control::{ControlMsg, Relayed};
use crate::proto::api::records::parse_records;
use crate::proto::pusher::{self, SocketId};
use crate::proto::ws::parse_header;
use crate::shard::state::Shard;

/// The event name of relayed record changes. REST events cannot carry it as changes: their
/// data is a JSON string, which is never a records body.
pub const RECORDS_EVENT: &str = "ringcast_internal:records";

/// Sends `changes` to the other nodes, one relayed event per run of one collection.
pub fn forward(shard: &Shard, app: usize, changes: &[SharedChange], except: Option<SocketId>) {
    for run in changes.chunk_by(|a, b| a.collection() == b.collection()) {
        let channel = &run[0].channel;
        let json = pusher::channel_event(RECORDS_EVENT, channel, &records_body(run), None);
        let relayed = Relayed {
            app,
            channel: channel.to_string(),
            frame: pusher::text_frame(&json),
            except,
            internal: false,
        };
        control::tell(shard, ControlMsg::Forward(Box::new(relayed)));
    }
}

/// Another node's relayed event: true when it carried record changes (then delivered to this
/// node's subscribers here); false for an ordinary event, which the caller publishes.
pub fn on_remote(shard: &Shard, event: &Relayed) -> bool {
    let config = &shard.config.apps[event.app];
    if config.collections.is_empty() || !event.channel.starts_with(&*config.realtime_prefix) {
        return false;
    }
    let Some(text) = frame_text(&event.frame) else {
        return false;
    };
    #[derive(Deserialize)]
    struct Message<'a> {
        event: String,
        #[serde(borrow)]
        data: &'a RawValue,
    }
    let message = match serde_json::from_str::<Message>(text) {
        Ok(m) if m.event == RECORDS_EVENT => m,
        _ => return false,
    };
    match parse_records(message.data.get().as_bytes()) {
        Ok(batch) => publish_remote(shard, event.app, batch.changes, event.except),
        Err(e) => {
            tracing::warn!(channel = %event.channel, error = %e, "record changes from another node could not be read; skipped (run one ringcast version across the cluster)");
        }
    }
    true
}

/// The text a server frame carries.
fn frame_text(frame: &[u8]) -> Option<&str> {
    let header = parse_header(frame).ok()??;
    std::str::from_utf8(frame.get(header.header_len..)?).ok()
}

/// The changes as a records body.
fn records_body(run: &[SharedChange]) -> String {
    let mut out = String::from(r#"{"records":["#);
    for (i, change) in run.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let collection = serde_json::Value::from(change.collection());
        out.push_str(&format!(
            r#"{{"collection":{collection},"action":"{}","record":{}"#,
            change.action.name(),
            change.record
        ));
        if let Some(previous) = &change.previous {
            out.push_str(&format!(r#","previous":{previous}"#));
        }
        out.push('}');
    }
    out.push_str("]}");
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::proto::api::records::RecordChange;
    use crate::proto::filter::Action;

    fn shared(collection: &str, action: Action, record: serde_json::Value) -> SharedChange {
        let change = RecordChange {
            collection: collection.into(),
            action,
            record,
            previous: None,
        };
        SharedChange::new("velo.realtime.", change)
    }

    #[test]
    fn a_run_crosses_as_a_records_body_with_previous_and_odd_names() {
        let mut update = shared("po\"sts", Action::Updated, json!({"id": 1, "s": "b"}));
        update.previous = Some(json!({"id": 1, "s": "a"}));
        let run = [
            shared("po\"sts", Action::Created, json!({"id": 1, "s": "a"})),
            update,
        ];
        let json = pusher::channel_event(RECORDS_EVENT, &run[0].channel, &records_body(&run), None);
        let message: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(message["event"], RECORDS_EVENT);
        let body = message["data"].to_string();
        let batch = parse_records(body.as_bytes()).expect("a records body");
        let back: Vec<RecordChange> = run
            .iter()
            .map(|c| RecordChange {
                collection: c.collection().to_string(),
                action: c.action,
                record: c.record.clone(),
                previous: c.previous.clone(),
            })
            .collect();
        assert_eq!(batch.changes, back);
    }

    #[test]
    fn only_the_internal_event_is_read_as_changes() {
        let frame = pusher::text_frame(&pusher::channel_event("created", "c", "\"{}\"", None));
        let text = frame_text(&frame).unwrap();
        assert!(text.contains(r#""event":"created""#), "{text}");
        assert_eq!(frame_text(b"\x81"), None, "a cut header");
    }
}
