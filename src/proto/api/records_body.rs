//! Reads the body of `POST /apps/{id}/records` in one pass, straight into its changes.
//!
//! Why not a JSON tree first: a change's envelope (`collection`, `action`, `socket_id`) is
//! thrown away as soon as it is read, and building it as a `serde_json::Value` cost a map and
//! an allocated key per field on every change, on the ingest path of every record. Here the
//! keys are matched as borrowed text and only `record` and `previous` become values. Why not
//! an untagged enum: it buffers the body once more and builds an error for every shape it
//! tries first.
//!
//! The three shapes are told apart as the bytes come: an array is a batch; an object is a
//! batch when its `records` is an array and its `socket_id` (if any) a string or null, and
//! otherwise one change (so `{"records": 3}` is one change with an unknown field). Only JSON
//! syntax fails the read; what is wrong with a change is kept beside it, so the caller can
//! name the first bad change by its index.

use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::realtime::MAX_RECORDS_PER_REQUEST;

/// The fields a change may have, for the error that names an unknown one.
pub(super) const CHANGE_FIELDS: &str = "`collection`, `action`, `record`, `previous`, `socket_id`";

/// One change's fields as written, not yet checked. `null` reads as absent.
#[derive(Debug, Default)]
pub(super) struct ChangeBody {
    pub collection: Option<Value>,
    pub action: Option<Value>,
    pub socket_id: Option<Value>,
    pub record: Option<Value>,
    pub previous: Option<Value>,
    /// The first field that is not a change's, by name.
    pub unknown: Option<String>,
}

/// A batch element: its fields, or why it is not a change.
pub(super) type Item = Result<ChangeBody, String>;

/// A body as read.
#[derive(Debug)]
pub(super) enum Body {
    /// A batch: its first [`MAX_RECORDS_PER_REQUEST`] elements, how many it had, and the
    /// `socket_id` of a `{"records": …}` batch.
    Batch {
        items: Vec<Item>,
        count: usize,
        socket_id: Option<String>,
    },
    /// One change: its fields, or why it is not one.
    One(Item),
}

impl ChangeBody {
    /// Reads the value of `key` into this change.
    fn read<'de, A: MapAccess<'de>>(&mut self, key: Key, map: &mut A) -> Result<(), A::Error> {
        match key {
            Key::Collection => self.collection = value(map)?,
            Key::Action => self.action = value(map)?,
            Key::SocketId => self.socket_id = value(map)?,
            Key::Record => self.record = value(map)?,
            Key::Previous => self.previous = value(map)?,
            Key::Records => self.skip_unknown("records", map)?,
            Key::Other(name) => self.skip_unknown(&name, map)?,
        }
        Ok(())
    }

    fn skip_unknown<'de, A: MapAccess<'de>>(
        &mut self,
        name: &str,
        map: &mut A,
    ) -> Result<(), A::Error> {
        map.next_value::<IgnoredAny>()?;
        if self.unknown.is_none() {
            self.unknown = Some(name.to_owned());
        }
        Ok(())
    }
}

/// The next value of `map`; `null` reads as absent.
fn value<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Value>, A::Error> {
    let v: Value = map.next_value()?;
    Ok((!v.is_null()).then_some(v))
}

/// A key of a change or of a batch object, matched without allocating unless unknown.
enum Key {
    Collection,
    Action,
    SocketId,
    Record,
    Previous,
    Records,
    Other(String),
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E>(self, s: &str) -> Result<Key, E> {
                Ok(match s {
                    "collection" => Key::Collection,
                    "action" => Key::Action,
                    "socket_id" => Key::SocketId,
                    "record" => Key::Record,
                    "previous" => Key::Previous,
                    "records" => Key::Records,
                    other => Key::Other(other.to_owned()),
                })
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

/// Visit methods for the JSON scalars, each giving what `$on_other` gives: the answer for a
/// value of a shape the visitor does not take (it has been read whole by then).
macro_rules! other_scalars {
    ($on_other:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($on_other)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($on_other)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($on_other)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($on_other)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($on_other)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($on_other)
        }
    };
}

/// A change's fields if the value is an object, else why it is not a change.
struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a change")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
        let mut change = ChangeBody::default();
        while let Some(key) = map.next_key::<Key>()? {
            change.read(key, &mut map)?;
        }
        Ok(Ok(change))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Item, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(not_an_object())
    }
    other_scalars!(not_an_object());
}

fn not_an_object() -> Item {
    Err(format!(
        "a change must be a JSON object with {CHANGE_FIELDS}"
    ))
}

/// The elements of a batch array: the first [`MAX_RECORDS_PER_REQUEST`] read as changes, the
/// rest only counted (a body over the limit is refused, and they would be dropped unread).
struct Items {
    items: Vec<Item>,
    count: usize,
}

/// A batch element, as something `next_element` can ask for.
struct Element(Item);

impl<'de> Deserialize<'de> for Element {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ItemVisitor).map(Element)
    }
}

fn read_items<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Items, A::Error> {
    let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(64));
    let mut count = 0;
    loop {
        let more = if count < MAX_RECORDS_PER_REQUEST {
            seq.next_element::<Element>()?
                .map(|Element(item)| items.push(item))
        } else {
            seq.next_element::<IgnoredAny>()?.map(drop)
        };
        if more.is_none() {
            return Ok(Items { items, count });
        }
        count += 1;
    }
}

/// The value of a top-level `records`: a batch's elements if it is an array.
struct RecordsValue(Option<Items>);

impl<'de> Deserialize<'de> for RecordsValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RecordsValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the batch's changes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RecordsValue, A::Error> {
                read_items(seq).map(|items| RecordsValue(Some(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RecordsValue, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(RecordsValue(None))
            }
            other_scalars!(RecordsValue(None));
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BodyVisitor)
    }
}

struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Body;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a change, an array of changes, or {\"records\": [...]}")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Body, A::Error> {
        let Items { items, count } = read_items(seq)?;
        Ok(Body::Batch {
            items,
            count,
            socket_id: None,
        })
    }

    /// An object is read as both shapes at once, and the shape decided at its end.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Body, A::Error> {
        let mut change = ChangeBody::default();
        let mut records = None;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Records => records = Some(map.next_value::<RecordsValue>()?),
                key => change.read(key, &mut map)?,
            }
        }
        let socket_id = match change.socket_id.take() {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(other),
        };
        match (records, socket_id) {
            (Some(RecordsValue(Some(Items { items, count }))), Ok(socket_id)) => Ok(Body::Batch {
                items,
                count,
                socket_id,
            }),
            (records, socket_id) => {
                change.socket_id = match socket_id {
                    Ok(s) => s.map(Value::String),
                    Err(other) => Some(other),
                };
                if records.is_some() && change.unknown.is_none() {
                    change.unknown = Some("records".into());
                }
                Ok(Body::One(Ok(change)))
            }
        }
    }

    other_scalars!(Body::One(not_an_object()));
}
