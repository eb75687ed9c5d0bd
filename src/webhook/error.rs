//! The webhook layer's error: every reason a pattern, a URL, a target address or a secret is
//! refused.
//!
//! Messages are user-facing (they become the body of a 422 when an endpoint is created), so each
//! says what is wrong and what to write instead. It never carries I/O errors: nothing in this
//! layer does I/O except drawing random bytes, whose failure is reported separately.

use std::fmt;
use std::net::IpAddr;

use super::ssrf::AddressClass;

/// Why a webhook setting was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookError {
    /// An event name pattern breaks the grammar (`order.paid`, `inventory.*`, `*`).
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A tenant id that cannot appear in a `tenant.{id}` channel name.
    InvalidTenant {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The URL cannot be a webhook target (scheme, length, host, port, credentials).
    InvalidUrl {
        /// What is wrong with it.
        reason: String,
    },
    /// The target address is in a class that is refused unless it is in `allowed_subnets`.
    RefusedAddress {
        /// The address that was checked.
        ip: IpAddr,
        /// Why it is refused.
        class: AddressClass,
    },
    /// The signing secret is not `whsec_` followed by the base64 of 24 to 64 bytes.
    InvalidSecret {
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl fmt::Display for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebhookError::InvalidPattern { pattern, reason } => write!(
                f,
                "event pattern '{pattern}' is invalid: {reason}; write a name such as \
                 'order.paid', a prefix such as 'inventory.*', or '*' for every event"
            ),
            WebhookError::InvalidTenant { reason } => write!(f, "tenant_id is invalid: {reason}"),
            WebhookError::InvalidUrl { reason } => write!(f, "url is invalid: {reason}"),
            WebhookError::RefusedAddress { ip, class } => write!(
                f,
                "url resolves to {ip}, a {} address; webhooks are not sent to such targets \
                 unless the server's webhooks.allowed_subnets includes them",
                class.describe()
            ),
            WebhookError::InvalidSecret { reason } => write!(
                f,
                "secret is invalid: {reason}; omit it to have one generated, or give \
                 'whsec_' followed by the base64 of 24 to 64 random bytes"
            ),
        }
    }
}

impl std::error::Error for WebhookError {}
