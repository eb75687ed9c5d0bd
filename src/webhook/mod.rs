//! Webhook delivery rules, sans-IO and driven by `now`: what is signed and how, which events an
//! endpoint receives, what a delivery body looks like, when to retry, when to pause an endpoint
//! and which targets are refused.
//!
//! Flow: [`route`] picks the endpoints of a published event, [`body`] shapes the delivery,
//! [`engine`] gates each due delivery (breaker, rate limit) and settles each attempt ([`retry`]),
//! [`request`] signs it ([`signing`]); [`ssrf`] vets targets.
//!
//! Everything here takes `now` (unix milliseconds) and bytes as arguments and answers with
//! values; it never opens a socket, never reads a clock and never touches the store. The control
//! core (later) owns the loop that sends requests and persists the answers through
//! [`crate::store`]. The only outside input is the OS random generator, used to make secrets and
//! message ids in [`signing`].

pub mod batcher;
pub mod body;
pub mod breaker;
pub mod bucket;
pub mod dates;
pub mod endpoint;
pub mod engine;
pub mod error;
pub mod pattern;
pub mod request;
pub mod retry;
pub mod route;
pub mod signing;
pub mod ssrf;

pub use error::WebhookError;
