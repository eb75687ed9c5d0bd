//! The authenticated user binds what a connection may claim: when connection authentication
//! gave a user id, a presence `channel_data.user_id` or a `pusher:signin` `user_data.id` must be
//! that same id. Without connection authentication nothing is checked here.

/// Checks that `claimed` (the id a presence join or sign-in names) is the connection's
/// authenticated user. `Err` carries the message naming both ids.
pub fn check(auth_user: Option<&str>, claimed: &str, what: &str) -> Result<(), String> {
    match auth_user {
        Some(user) if user != claimed => Err(format!(
            "{what} '{claimed}' differs from the connection's authenticated user '{user}'"
        )),
        _ => Ok(()),
    }
}

/// A presence join's `channel_data.user_id` against the authenticated user.
pub fn check_presence(auth_user: Option<&str>, user_id: &str) -> Result<(), String> {
    check(auth_user, user_id, "presence user_id")
}

/// A sign-in's `user_data.id` against the authenticated user.
pub fn check_signin(auth_user: Option<&str>, id: &str) -> Result<(), String> {
    check(auth_user, id, "signin user_data.id")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_different_id_is_refused() {
        assert!(check_presence(None, "u2").is_ok());
        assert!(check_presence(Some("u1"), "u1").is_ok());
        let err = check_signin(Some("u1"), "u2").unwrap_err();
        assert!(err.contains("'u2'") && err.contains("'u1'"), "{err}");
    }
}
