//! What one subscriber receives for one record change: the leave/enter rules.
//!
//! - `created`: delivered when the new record matches.
//! - `deleted`: matched against the record as it was (the deleted record itself).
//! - `updated` with the previous record: matched before and after → `updated`; only after →
//!   `created` (it entered the subscriber's view); only before → `deleted` (it left; PocketBase
//!   sends nothing here, the gap this closes), unless leaves are switched off.
//! - `updated` without the previous record: whether it matched before is unknown, so a match
//!   now is `updated` and anything else is nothing.
//!
//! Pure: the caller parses the record once, asks this for each candidate, and sends.

use serde_json::Value;

use super::compile::CompiledFilter;

/// What happened to a record, as the app reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The record was created.
    Created,
    /// The record was updated.
    Updated,
    /// The record was deleted.
    Deleted,
}

/// The event a subscriber receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// `created`: the record is new to this subscriber.
    Created,
    /// `updated`: the subscriber saw the record before and still does.
    Updated,
    /// `deleted`: the record is gone, or no longer matches the subscriber's filter.
    Deleted,
}

impl Action {
    /// The action as the app writes it (`action` in a record change).
    pub fn name(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Deleted => "deleted",
        }
    }
}

impl Delivery {
    /// The Pusher event name (and the payload's `action`).
    pub fn event(self) -> &'static str {
        match self {
            Delivery::Created => "created",
            Delivery::Updated => "updated",
            Delivery::Deleted => "deleted",
        }
    }
}

/// One change to a record.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// What happened.
    pub action: Action,
    /// The record after the change; for a delete, the record as it was.
    pub record: &'a Value,
    /// The record before an update, when the app sent it.
    pub previous: Option<&'a Value>,
}

/// What `filter`'s subscriber receives for `change`; `leaves` turns an update that stops
/// matching into `deleted` (on by default in the config).
pub fn delivery(filter: &CompiledFilter, change: &Change<'_>, leaves: bool) -> Option<Delivery> {
    decide(
        change.action,
        filter.matches(change.record),
        || change.previous.map(|p| filter.matches(p)),
        leaves,
    )
}

/// The rules above, given whether the filter matches the record `now`, and `before`: whether
/// it matched the previous record (`None` when unknown), asked only for an update.
pub(crate) fn decide(
    action: Action,
    now: bool,
    before: impl FnOnce() -> Option<bool>,
    leaves: bool,
) -> Option<Delivery> {
    match action {
        Action::Created => now.then_some(Delivery::Created),
        Action::Deleted => now.then_some(Delivery::Deleted),
        Action::Updated => {
            let before = before();
            match (before, now) {
                (Some(true) | None, true) => Some(Delivery::Updated),
                (Some(false), true) => Some(Delivery::Created),
                (Some(true), false) if leaves => Some(Delivery::Deleted),
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::proto::filter::parse;

    fn filter(src: &str) -> CompiledFilter {
        CompiledFilter::new(None, Some(&parse(src).unwrap()), &Value::Null)
    }

    fn update(f: &CompiledFilter, old: &Value, new: &Value, leaves: bool) -> Option<Delivery> {
        let change = Change {
            action: Action::Updated,
            record: new,
            previous: Some(old),
        };
        delivery(f, &change, leaves)
    }

    #[test]
    fn updates_enter_stay_leave_or_pass_by() {
        let f = filter("status = 'active'");
        let active = json!({"status": "active"});
        let idle = json!({"status": "idle"});
        assert_eq!(update(&f, &active, &active, true), Some(Delivery::Updated));
        assert_eq!(update(&f, &idle, &active, true), Some(Delivery::Created));
        assert_eq!(update(&f, &active, &idle, true), Some(Delivery::Deleted));
        assert_eq!(
            update(&f, &active, &idle, false),
            None,
            "leaves switched off"
        );
        assert_eq!(update(&f, &idle, &idle, true), None);
    }

    #[test]
    fn an_update_without_the_previous_record_is_judged_on_the_new_one() {
        let f = filter("n > 1");
        let (two, zero) = (json!({"n": 2}), json!({"n": 0}));
        let change = |record| Change {
            action: Action::Updated,
            record,
            previous: None,
        };
        assert_eq!(delivery(&f, &change(&two), true), Some(Delivery::Updated));
        assert_eq!(delivery(&f, &change(&zero), true), None);
    }

    #[test]
    fn creates_and_deletes_match_the_record_they_carry() {
        let f = filter("owner = 'u1'");
        let mine = json!({"owner": "u1"});
        let theirs = json!({"owner": "u2"});
        for (action, want) in [
            (Action::Created, Delivery::Created),
            (Action::Deleted, Delivery::Deleted),
        ] {
            let change = |record| Change {
                action,
                record,
                previous: None,
            };
            assert_eq!(delivery(&f, &change(&mine), true), Some(want));
            assert_eq!(delivery(&f, &change(&theirs), true), None);
        }
        assert_eq!(Delivery::Deleted.event(), "deleted");
    }
}
