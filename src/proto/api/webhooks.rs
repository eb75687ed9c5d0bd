//! Bodies of `POST /apps/{id}/webhooks` (create) and `PATCH /apps/{id}/webhooks/{wid}`
//! (partial update), parsed and validated without I/O.
//!
//! Owns the request shape `{name, url, events, tenant_id?, is_active?, max_retries?,
//! retry_delays?, secret?, headers?, rate_limit_per_s?, format?}`, the per-field limits and a
//! message per bad field that says what to send instead. Rules that belong to webhooks (pattern
//! grammar, tenant ids, the SSRF guard, secret format) are delegated to `crate::webhook`. It
//! never generates the secret (the caller does, when none is given), never resolves a host name
//! and never touches the store.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::proto::http::Response;
use crate::ratelimit::Cidr;
use crate::webhook::body::PUSHER_EVENT_TYPES;
use crate::webhook::endpoint::{EndpointPatch, EndpointSpec, Format};
use crate::webhook::pattern::{validate_tenant, Pattern};
use crate::webhook::signing::SigningKey;
use crate::webhook::ssrf::parse_url;
use crate::webhook::WebhookError;

/// Longest endpoint name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Most patterns per endpoint.
pub const MAX_PATTERNS: usize = 50;
/// Most retries after the first attempt.
pub const MAX_RETRIES: u64 = 20;
/// Longest single retry delay: one day.
pub const MAX_DELAY_SECS: u64 = 86_400;
/// Most custom headers.
pub const MAX_HEADERS: usize = 20;
/// Longest header value, in bytes.
pub const MAX_HEADER_VALUE: usize = 1024;
/// Highest per-endpoint rate limit.
pub const MAX_RATE_PER_S: u64 = 10_000;

/// Headers ringcast sets itself; an endpoint may not override them.
const RESERVED_HEADERS: [&str; 12] = [
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "user-agent",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-webhook-signature",
    "x-pusher-key",
    "x-pusher-signature",
];

const FIELDS: [&str; 11] = [
    "name",
    "url",
    "events",
    "tenant_id",
    "is_active",
    "max_retries",
    "retry_delays",
    "secret",
    "headers",
    "rate_limit_per_s",
    "format",
];

/// Why an endpoint request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointRequestError {
    /// Not a JSON object: 400.
    Malformed(String),
    /// A field this API does not know (a typo would otherwise be silently ignored): 400.
    UnknownField(String),
    /// A required field is absent or null: 400.
    Missing(&'static str),
    /// A PATCH that changes nothing: 400.
    EmptyPatch,
    /// A field has the wrong type or is out of range: 422.
    Invalid {
        /// The field, e.g. `retry_delays[2]`.
        field: String,
        /// What it must be.
        expected: String,
    },
    /// A webhook rule refused the value (pattern, tenant, URL, address, secret): 422.
    Rejected(WebhookError),
}

impl EndpointRequestError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Self::Malformed(_) | Self::UnknownField(_) | Self::Missing(_) | Self::EmptyPatch => 400,
            Self::Invalid { .. } | Self::Rejected(_) => 422,
        }
    }

    /// The response: the status and `{"error": "<message>"}`.
    pub fn to_response(&self) -> Response {
        Response::error(self.status(), &self.to_string())
    }
}

impl fmt::Display for EndpointRequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(
                f,
                "request body is not a JSON object ({why}); send UTF-8 JSON with \
                 Content-Type: application/json"
            ),
            Self::UnknownField(name) => write!(
                f,
                "unknown field \"{name}\"; the fields are {}",
                FIELDS.join(", ")
            ),
            Self::Missing(field) => write!(f, "the request body must have a \"{field}\" field"),
            Self::EmptyPatch => {
                f.write_str("the PATCH body changes nothing; send at least one field")
            }
            Self::Invalid { field, expected } => write!(f, "{field} must be {expected}"),
            Self::Rejected(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for EndpointRequestError {}

impl From<WebhookError> for EndpointRequestError {
    fn from(e: WebhookError) -> Self {
        Self::Rejected(e)
    }
}

fn invalid(field: impl Into<String>, expected: impl Into<String>) -> EndpointRequestError {
    EndpointRequestError::Invalid {
        field: field.into(),
        expected: expected.into(),
    }
}

/// The body's object, refusing anything else and any unknown field.
fn object(body: &[u8]) -> Result<Map<String, Value>, EndpointRequestError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| EndpointRequestError::Malformed(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(EndpointRequestError::Malformed(
            "the top level is not an object".into(),
        ));
    };
    if let Some(unknown) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(EndpointRequestError::UnknownField(unknown.clone()));
    }
    Ok(map)
}

fn name(v: &Value) -> Result<String, EndpointRequestError> {
    let expected = "a non-empty string of at most 100 characters without control characters";
    match v.as_str() {
        Some(s)
            if !s.trim().is_empty()
                && s.chars().count() <= MAX_NAME_CHARS
                && !s.chars().any(char::is_control) =>
        {
            Ok(s.to_owned())
        }
        _ => Err(invalid("name", expected)),
    }
}

fn url(v: &Value, allowed: &[Cidr]) -> Result<String, EndpointRequestError> {
    let s = v
        .as_str()
        .ok_or_else(|| invalid("url", "a string (an http:// or https:// URL)"))?;
    parse_url(s, allowed)?;
    Ok(s.to_owned())
}

fn events(v: &Value, format: Format) -> Result<Vec<String>, EndpointRequestError> {
    let expected =
        "an array of 1 to 50 event name patterns such as \"order.paid\", \"inventory.*\" or \"*\"";
    let list = v
        .as_array()
        .filter(|a| (1..=MAX_PATTERNS).contains(&a.len()));
    let list = list.ok_or_else(|| invalid("events", expected))?;
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let text = item
            .as_str()
            .ok_or_else(|| invalid(format!("events[{i}]"), "a string"))?;
        Pattern::parse(text)?;
        if format == Format::Pusher && text != "*" && !PUSHER_EVENT_TYPES.contains(&text) {
            let types = PUSHER_EVENT_TYPES.join(", ");
            return Err(invalid(
                format!("events[{i}]"),
                format!("'*' or one of {types} for a pusher-format endpoint"),
            ));
        }
        out.push(text.to_owned());
    }
    Ok(out)
}

fn tenant(v: &Value) -> Result<Option<String>, EndpointRequestError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => {
            validate_tenant(s)?;
            Ok(Some(s.clone()))
        }
        _ => Err(invalid("tenant_id", "a string or null")),
    }
}

fn whole(
    field: impl Into<String>,
    v: &Value,
    lo: u64,
    hi: u64,
) -> Result<u64, EndpointRequestError> {
    v.as_u64()
        .filter(|n| (lo..=hi).contains(n))
        .ok_or_else(|| invalid(field, format!("a whole number from {lo} to {hi}")))
}

fn delays(v: &Value) -> Result<Vec<u32>, EndpointRequestError> {
    let expected = "an array of 1 to 20 delays in seconds";
    let list = v
        .as_array()
        .filter(|a| (1..=MAX_RETRIES as usize).contains(&a.len()));
    let list = list.ok_or_else(|| invalid("retry_delays", expected))?;
    list.iter()
        .enumerate()
        .map(|(i, d)| whole(format!("retry_delays[{i}]"), d, 1, MAX_DELAY_SECS).map(|n| n as u32))
        .collect()
}

fn secret(v: &Value) -> Result<String, EndpointRequestError> {
    let s = v
        .as_str()
        .ok_or_else(|| invalid("secret", "a string starting with whsec_"))?;
    SigningKey::from_secret(s)?;
    Ok(s.to_owned())
}

fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn headers(v: &Value) -> Result<BTreeMap<String, String>, EndpointRequestError> {
    let map = v.as_object().filter(|m| m.len() <= MAX_HEADERS);
    let map =
        map.ok_or_else(|| invalid("headers", "an object of at most 20 name: value strings"))?;
    let mut out = BTreeMap::new();
    for (k, val) in map {
        let field = format!("headers[\"{k}\"]");
        if !is_token(k) {
            return Err(invalid(
                field,
                "a header name made of letters, digits and !#$%&'*+-.^_`|~",
            ));
        }
        if RESERVED_HEADERS.contains(&k.to_ascii_lowercase().as_str()) {
            return Err(invalid(field, "a header ringcast does not set itself (signatures, Host, Content-*, User-Agent are reserved)"));
        }
        let s = val.as_str().filter(|s| {
            s.len() <= MAX_HEADER_VALUE && !s.bytes().any(|b| b < b' ' && b != b'\t' || b == 0x7f)
        });
        let s = s.ok_or_else(|| {
            invalid(
                format!("headers[\"{k}\"]"),
                "a string of at most 1024 bytes without line breaks",
            )
        })?;
        out.insert(k.clone(), s.to_owned());
    }
    Ok(out)
}

fn rate(v: &Value) -> Result<Option<u32>, EndpointRequestError> {
    match v {
        Value::Null => Ok(None),
        v => whole("rate_limit_per_s", v, 1, MAX_RATE_PER_S).map(|n| Some(n as u32)),
    }
}

fn format_of(v: &Value) -> Result<Format, EndpointRequestError> {
    v.as_str()
        .and_then(Format::parse)
        .ok_or_else(|| invalid("format", "\"standard\" or \"pusher\""))
}

fn boolean(field: &'static str, v: &Value) -> Result<bool, EndpointRequestError> {
    v.as_bool().ok_or_else(|| invalid(field, "true or false"))
}

/// A present, non-null field.
fn given<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|v| !v.is_null())
}

/// Parses a create request; defaults fill what was left out (retries by format). `allowed` is
/// `webhooks.allowed_subnets`.
pub fn parse_create(body: &[u8], allowed: &[Cidr]) -> Result<EndpointSpec, EndpointRequestError> {
    let map = object(body)?;
    let need = |k: &'static str| given(&map, k).ok_or(EndpointRequestError::Missing(k));
    let format = given(&map, "format")
        .map(format_of)
        .transpose()?
        .unwrap_or_default();
    Ok(EndpointSpec {
        name: name(need("name")?)?,
        url: url(need("url")?, allowed)?,
        events: events(need("events")?, format)?,
        tenant_id: map.get("tenant_id").map(tenant).transpose()?.flatten(),
        is_active: given(&map, "is_active")
            .map(|v| boolean("is_active", v))
            .transpose()?
            .unwrap_or(true),
        max_retries: match given(&map, "max_retries") {
            Some(v) => whole("max_retries", v, 0, MAX_RETRIES)? as u32,
            None => format.default_max_retries(),
        },
        retry_delays: given(&map, "retry_delays")
            .map(delays)
            .transpose()?
            .unwrap_or_else(|| format.default_retry_delays()),
        secret: given(&map, "secret").map(secret).transpose()?,
        headers: given(&map, "headers")
            .map(headers)
            .transpose()?
            .unwrap_or_default(),
        rate_limit_per_s: map.get("rate_limit_per_s").map(rate).transpose()?.flatten(),
        format,
    })
}

/// Parses a partial update. `null` clears `tenant_id` and `rate_limit_per_s`; for the other
/// fields `null` is refused, since they have no "unset" state. A `format` change does not
/// re-check `events` against the endpoint: the handler validates the merged endpoint.
pub fn parse_patch(body: &[u8], allowed: &[Cidr]) -> Result<EndpointPatch, EndpointRequestError> {
    let map = object(body)?;
    let not_null = |k: &'static str| match map.get(k) {
        Some(Value::Null) => Err(invalid(k, "given a value (null cannot unset it)")),
        v => Ok(v),
    };
    let format = not_null("format")?.map(format_of).transpose()?;
    let patch = EndpointPatch {
        name: not_null("name")?.map(name).transpose()?,
        url: not_null("url")?.map(|v| url(v, allowed)).transpose()?,
        events: not_null("events")?
            .map(|v| events(v, format.unwrap_or_default()))
            .transpose()?,
        tenant_id: map.get("tenant_id").map(tenant).transpose()?,
        is_active: not_null("is_active")?
            .map(|v| boolean("is_active", v))
            .transpose()?,
        max_retries: not_null("max_retries")?
            .map(|v| whole("max_retries", v, 0, MAX_RETRIES).map(|n| n as u32))
            .transpose()?,
        retry_delays: not_null("retry_delays")?.map(delays).transpose()?,
        secret: not_null("secret")?.map(secret).transpose()?,
        headers: not_null("headers")?.map(headers).transpose()?,
        rate_limit_per_s: map.get("rate_limit_per_s").map(rate).transpose()?,
        format,
    };
    if patch.is_empty() {
        return Err(EndpointRequestError::EmptyPatch);
    }
    Ok(patch)
}

#[cfg(test)]
#[path = "webhooks_tests.rs"]
mod tests;
