//! Who a verified token says the connection is: the user id that binds presence and sign-in,
//! and the claims that collection filters read as `@request.auth.*`.

use std::sync::Arc;

use serde_json::Value;

/// A verified connection token.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The user id (`sub` of a JWT, the Sanctum user's `id`).
    pub user: Arc<str>,
    /// The JWT payload, or `{"id": user}` for a Sanctum token.
    pub claims: Arc<Value>,
}

impl Identity {
    /// The identity of a Sanctum token, whose introspection answer yields the user id.
    pub fn of_user(user: Arc<str>) -> Self {
        let claims = Arc::new(serde_json::json!({ "id": &*user }));
        Identity { user, claims }
    }
}
