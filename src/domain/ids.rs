//! Strings that carry meaning, parsed once at the edge: Twilio's `MessageSid` and a sender's or
//! recipient's phone number. Both are bounded (64 bytes, no control characters) because a
//! stranger chooses them and they end up in Redis keys and log lines. Serialized as plain
//! strings, so queued jobs read the same as before.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

use super::error::InboundError;

/// The longest MessageSid or number accepted (Twilio's SIDs are 34 characters; an E.164 number
/// at most 16, a channel address such as `whatsapp:+1...` a little more).
pub const MAX_ID_BYTES: usize = 64;

macro_rules! bounded_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Parses the value of the webhook parameter `param`: required (not blank), at most
            /// [`MAX_ID_BYTES`] bytes, without control characters.
            pub fn parse(param: &'static str, value: &str) -> Result<Self, InboundError> {
                if value.trim().is_empty() {
                    return Err(InboundError::Missing(param));
                }
                if value.len() > MAX_ID_BYTES || value.chars().any(char::is_control) {
                    return Err(InboundError::Invalid {
                        name: param.to_string(),
                        problem: format!(
                            "must be at most {MAX_ID_BYTES} characters without control characters"
                        ),
                    });
                }
                Ok($name(value.to_string()))
            }

            /// The value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

bounded_string!(
    /// Twilio's `MessageSid` of an inbound message (`SM…` or `MM…`): the key a message is
    /// de-duplicated, recorded and dead-lettered under.
    MessageSid
);

bounded_string!(
    /// A phone number as Twilio gives it: E.164 (`+15551234567`), a short code, or a channel
    /// address (`whatsapp:+1…`). It is masked in logs above debug.
    PhoneNumber
);

/// A phone number shortened for logs above debug level: `+1*******67`.
pub(crate) fn mask_number(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() <= 4 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_plain_value_and_refuses_blank_long_or_control_characters() {
        let sid = MessageSid::parse("MessageSid", "SM123").unwrap();
        assert_eq!(sid, "SM123");
        assert_eq!(sid.to_string(), "SM123");
        assert_eq!(
            MessageSid::parse("MessageSid", "  "),
            Err(InboundError::Missing("MessageSid"))
        );
        assert!(PhoneNumber::parse("From", &"1".repeat(65)).is_err());
        assert!(PhoneNumber::parse("From", "+1555\n1234").is_err());
        assert!(PhoneNumber::parse("From", "whatsapp:+15551234567").is_ok());
    }

    #[test]
    fn serializes_as_a_plain_string() {
        let number = PhoneNumber::parse("From", "+15551234567").unwrap();
        assert_eq!(serde_json::to_string(&number).unwrap(), "\"+15551234567\"");
        let back: PhoneNumber = serde_json::from_str("\"+15551234567\"").unwrap();
        assert_eq!(back, number);
    }
}
