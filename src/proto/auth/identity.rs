//! Who a verified token says the connection is: the user id that binds presence and sign-in,
//! and the claims that collection filters read as `@request.auth.*`.

use std::sync::Arc;

use serde_json::Value;

/// A verified connection token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user id (`sub` of a JWT, the Sanctum user's `id`).
    pub user: Arc<str>,
    /// The JWT payload, or the user object of a Sanctum introspection answer.
    pub claims: Arc<Value>,
}
