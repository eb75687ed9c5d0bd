//! The decoded signing key of each standard-format endpoint, kept between its attempts.
//!
//! Decoding a `whsec_` secret (base64, then absorbing the key into the HMAC state) is the same
//! work at every attempt of an endpoint, so the delivery loop keeps the result per endpoint id
//! together with the secret it came from: a secret changed by a PATCH no longer matches and is
//! decoded afresh at the next attempt. It never reads the store; the endpoint it is given is
//! the truth.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::store::Endpoint;
use crate::webhook::signing::SigningKey;

/// Endpoint id → (the secret the key was decoded from, the key).
#[derive(Default)]
pub(super) struct SigningKeys {
    by_endpoint: RefCell<HashMap<String, (String, Rc<SigningKey>)>>,
}

impl SigningKeys {
    /// The key of `ep`'s current secret; the reason when the secret does not decode.
    pub(super) fn key(&self, ep: &Endpoint) -> Result<Rc<SigningKey>, String> {
        if let Some((secret, key)) = self.by_endpoint.borrow().get(&ep.id) {
            if *secret == ep.secret {
                return Ok(key.clone());
            }
        }
        let key = Rc::new(SigningKey::from_secret(&ep.secret).map_err(|e| e.to_string())?);
        self.by_endpoint
            .borrow_mut()
            .insert(ep.id.clone(), (ep.secret.clone(), key.clone()));
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract::new_endpoint;
    use crate::webhook::signing::body_signature;

    fn endpoint(secret: &str) -> Endpoint {
        let new = new_endpoint("a", "ep", 1);
        Endpoint {
            secret: secret.to_owned(),
            ..Endpoint::from_new(new)
        }
    }

    #[test]
    fn a_changed_secret_is_decoded_again_and_a_bad_one_says_why() {
        let keys = SigningKeys::default();
        let first = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let second = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let a = keys.key(&endpoint(first)).unwrap();
        assert!(Rc::ptr_eq(&a, &keys.key(&endpoint(first)).unwrap()), "kept");
        let b = keys.key(&endpoint(second)).unwrap();
        assert_eq!(*b, SigningKey::from_secret(second).unwrap());
        assert_ne!(body_signature(&a, b"{}"), body_signature(&b, b"{}"));
        let err = keys.key(&endpoint("plain")).unwrap_err();
        assert!(err.contains("whsec_"), "{err}");
    }
}
