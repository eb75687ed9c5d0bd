//! Property tests of the session over random sequences of subscribes, unsubscribes and owner
//! answers: the channel index it asks for never holds a channel twice or loses one it never
//! added, presence membership at the owner never goes negative, and once the connection closes
//! (and answers still in flight arrive) nothing it joined is left anywhere. Test-only.

use std::collections::HashSet;

use proptest::prelude::*;
use serde_json::json;

use super::testkit::*;
use super::{Effect, Input, OwnerRequest, Session};

const CHANNELS: [&str; 4] = ["news", "private-a", "presence-r", "cache-c"];
const PRESENCE: &str = "presence-r";

#[derive(Debug, Clone)]
enum Op {
    Subscribe(usize),
    Unsubscribe(usize),
    /// The owner answers the oldest join in flight: accepted or refused.
    Answer(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..CHANNELS.len()).prop_map(Op::Subscribe),
        (0..CHANNELS.len()).prop_map(Op::Unsubscribe),
        any::<bool>().prop_map(Op::Answer),
    ]
}

/// What the shell and the owner core would hold after carrying out the effects.
#[derive(Default)]
struct World {
    index: HashSet<String>,
    /// Accepted presence joins minus leaves, as the owner counts them.
    members: i64,
    /// Joins sent to the owner and not answered yet.
    in_flight: usize,
}

impl World {
    fn apply(&mut self, effects: Vec<Effect>) -> Result<(), TestCaseError> {
        for effect in effects {
            match effect {
                Effect::Join(ch) => {
                    prop_assert!(self.index.insert(ch.to_string()), "joined {ch} twice")
                }
                Effect::Leave(ch) => {
                    prop_assert!(self.index.remove(&*ch), "left {ch} never joined")
                }
                Effect::Owner { request, .. } => match request {
                    OwnerRequest::PresenceJoin { .. } => self.in_flight += 1,
                    OwnerRequest::PresenceLeave { .. } => {
                        self.members -= 1;
                        prop_assert!(self.members >= 0, "more leaves than accepted joins");
                    }
                    OwnerRequest::CacheFetch => {}
                },
                _ => {}
            }
        }
        Ok(())
    }

    fn answer(&mut self, s: &mut Session, accept: bool) -> Result<(), TestCaseError> {
        if self.in_flight == 0 {
            return Ok(());
        }
        self.in_flight -= 1;
        self.members += i64::from(accept);
        let result = if accept { Ok("{}") } else { Err("full") };
        let effects = feed(s, presence_answer(PRESENCE, "u1", result), 0);
        self.apply(effects)
    }
}

proptest! {
    #[test]
    fn whatever_the_order_closing_leaves_nothing_behind(ops in proptest::collection::vec(op(), 0..40)) {
        let mut s = session();
        let mut world = World::default();
        for op in ops {
            match op {
                Op::Subscribe(i) => {
                    let data = (CHANNELS[i] == PRESENCE).then_some(r#"{"user_id":"u1"}"#);
                    world.apply(send(&mut s, subscribe(CHANNELS[i], data, true), 0))?;
                }
                Op::Unsubscribe(i) => {
                    let msg = json!({"event": "pusher:unsubscribe", "data": {"channel": CHANNELS[i]}});
                    world.apply(send(&mut s, msg, 0))?;
                }
                Op::Answer(accept) => world.answer(&mut s, accept)?,
            }
        }
        world.apply(feed(&mut s, Input::Closed, 0))?;
        while world.in_flight > 0 {
            world.answer(&mut s, true)?;
        }
        prop_assert!(world.index.is_empty(), "still joined: {:?}", world.index);
        prop_assert_eq!(world.members, 0);
    }
}
