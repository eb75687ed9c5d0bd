//! What an endpoint is configured with: its format, its retry schedule and the defaults that
//! fill what a request left out.
//!
//! Owns the validated settings of an endpoint ([`EndpointSpec`]), a partial update
//! ([`EndpointPatch`]) and how one is applied to the other. Parsing a request into these lives in
//! `proto::api::webhooks`; storing them lives in `store`. Nothing here does I/O.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Retries after the first attempt of a business endpoint unless configured.
pub const DEFAULT_MAX_RETRIES: u32 = 5;
/// Seconds before each retry of a business endpoint unless configured.
pub const DEFAULT_RETRY_DELAYS: [u32; 5] = [60, 300, 900, 3600, 7200];
/// Retries of a Pusher-format endpoint: with the first attempt, 5 attempts.
pub const PUSHER_MAX_RETRIES: u32 = 4;
/// Seconds before each retry of a Pusher-format endpoint: the last attempt goes 220 s after the
/// first, inside the 5 minutes Pusher documents for its own retries.
pub const PUSHER_RETRY_DELAYS: [u32; 4] = [10, 30, 60, 120];

/// How deliveries to an endpoint are shaped and signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `{id, type, timestamp, data}` with Standard Webhooks headers.
    #[default]
    Standard,
    /// `{time_ms, events}` with `X-Pusher-Key` / `X-Pusher-Signature`.
    Pusher,
}

impl Format {
    /// The stored and API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Standard => "standard",
            Format::Pusher => "pusher",
        }
    }

    /// Parses the stored and API spelling.
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "standard" => Some(Format::Standard),
            "pusher" => Some(Format::Pusher),
            _ => None,
        }
    }

    /// The retry count used when a request gives none.
    pub fn default_max_retries(self) -> u32 {
        match self {
            Format::Standard => DEFAULT_MAX_RETRIES,
            Format::Pusher => PUSHER_MAX_RETRIES,
        }
    }

    /// The retry delays used when a request gives none.
    pub fn default_retry_delays(self) -> Vec<u32> {
        match self {
            Format::Standard => DEFAULT_RETRY_DELAYS.to_vec(),
            Format::Pusher => PUSHER_RETRY_DELAYS.to_vec(),
        }
    }
}

/// The validated settings of an endpoint, with every default filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSpec {
    /// A label for people.
    pub name: String,
    /// The target URL (validated by the SSRF guard).
    pub url: String,
    /// Event name patterns, as given (each one valid).
    pub events: Vec<String>,
    /// When set, only events on this tenant's channels are delivered.
    pub tenant_id: Option<String>,
    /// Whether deliveries are made.
    pub is_active: bool,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Seconds before each retry; the last one repeats when there are more retries.
    pub retry_delays: Vec<u32>,
    /// `whsec_` secret; `None` asks the caller to generate one.
    pub secret: Option<String>,
    /// Extra headers sent with every delivery.
    pub headers: BTreeMap<String, String>,
    /// Most deliveries per second to this endpoint; `None` is unlimited.
    pub rate_limit_per_s: Option<u32>,
    /// Body shape and signature scheme.
    pub format: Format,
}

/// A partial update: `None` leaves a field as it is. For the nullable fields (`tenant_id`,
/// `rate_limit_per_s`) `Some(None)` clears the value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointPatch {
    /// New name.
    pub name: Option<String>,
    /// New URL.
    pub url: Option<String>,
    /// New patterns.
    pub events: Option<Vec<String>>,
    /// New tenant, or `Some(None)` to deliver every tenant's events.
    pub tenant_id: Option<Option<String>>,
    /// Enable or disable.
    pub is_active: Option<bool>,
    /// New retry count.
    pub max_retries: Option<u32>,
    /// New delays.
    pub retry_delays: Option<Vec<u32>>,
    /// New secret (rotation).
    pub secret: Option<String>,
    /// New headers (replace the whole map).
    pub headers: Option<BTreeMap<String, String>>,
    /// New rate limit, or `Some(None)` for unlimited.
    pub rate_limit_per_s: Option<Option<u32>>,
    /// New format.
    pub format: Option<Format>,
}

impl EndpointPatch {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == EndpointPatch::default()
    }
}
