//! The signature of an event, the Standard Webhooks way: the secret is `whsec_` followed by the
//! base64 of the key's bytes, and `webhook-signature` is `v1,` followed by the base64 of
//! HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}"). Any Standard Webhooks library
//! verifies what this signs.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How an events secret starts.
pub(crate) const PREFIX: &str = "whsec_";

/// Shortest and longest key, in bytes (the Standard Webhooks spec asks for 24 to 64).
pub(crate) const MIN_KEY_BYTES: usize = 24;
pub(crate) const MAX_KEY_BYTES: usize = 64;

/// The key events are signed with; its `Debug` prints nothing of it.
#[derive(Clone)]
pub(crate) struct EventsKey(Vec<u8>);

impl std::fmt::Debug for EventsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventsKey([redacted])")
    }
}

impl EventsKey {
    /// The key of a `whsec_` secret; the error says what is wrong with it without showing it.
    pub(crate) fn parse(secret: &str) -> Result<Self, String> {
        let Some(encoded) = secret.strip_prefix(PREFIX) else {
            return Err(format!(
                "must start with `{PREFIX}` (a Standard Webhooks secret)"
            ));
        };
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| format!("must be `{PREFIX}` followed by base64"))?;
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(format!(
                "must hold a key of {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes, got {}",
                key.len()
            ));
        }
        Ok(EventsKey(key))
    }

    /// The `webhook-signature` header of `body` sent as `id` at `timestamp` (seconds since the
    /// epoch).
    pub(crate) fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts a key of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks spec's own test vector.
    #[test]
    fn signs_the_standard_webhooks_vector() {
        let key = EventsKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = key.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn refuses_secrets_that_are_not_standard_webhooks_ones() {
        let no_prefix = EventsKey::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err();
        assert!(no_prefix.contains("whsec_"), "{no_prefix}");
        let not_base64 = EventsKey::parse("whsec_not base64!").unwrap_err();
        assert!(not_base64.contains("base64"), "{not_base64}");
        let short = EventsKey::parse("whsec_c2hvcnQ=").unwrap_err();
        assert!(short.contains("24 to 64 bytes, got 5"), "{short}");
        let key = EventsKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(format!("{key:?}"), "EventsKey([redacted])");
    }
}
