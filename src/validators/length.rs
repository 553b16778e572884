//! `length`: 1..=max_message_length characters (characters, not bytes). An empty body passes when
//! media is attached.

use super::Validator;
use crate::domain::InboundMessage;

/// Rejects empty and over-long messages.
pub struct Length {
    max: usize,
}

impl Length {
    /// A length check with the topic's `max_message_length`.
    pub fn new(max: usize) -> Self {
        Length { max }
    }
}

impl Validator for Length {
    fn check(&self, message: &InboundMessage) -> bool {
        let chars = message.message.chars().count();
        if chars == 0 {
            return message.media.count > 0;
        }
        chars <= self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validators::test_support::message;

    #[test]
    fn counts_characters_not_bytes() {
        let v = Length::new(160);
        assert!(v.check(&message(&"é".repeat(160))));
        assert!(!v.check(&message(&"a".repeat(161))));
        assert!(!v.check(&message(&"a".repeat(1600))));
        assert!(!v.check(&message("")));
    }

    #[test]
    fn lets_an_empty_body_through_when_media_is_attached() {
        let mut m = message("");
        m.media.count = 1;
        assert!(Length::new(160).check(&m));
    }
}
