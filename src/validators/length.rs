//! `length`: 1..=max_message_length characters (characters, not bytes). An empty body passes when
//! media is attached.

use super::validator::Validator;
use crate::domain::InboundMessage;

/// Rejects empty and over-long messages.
pub(crate) struct Length {
    max: usize,
    empty_ok: bool,
}

impl Length {
    /// A length check with the topic's `max_message_length`.
    pub(crate) fn new(max: usize) -> Self {
        Length {
            max,
            empty_ok: false,
        }
    }

    /// Only the upper bound: what every topic enforces when it does not list `length`.
    pub(crate) fn at_most(max: usize) -> Self {
        Length {
            max,
            empty_ok: true,
        }
    }
}

impl Validator for Length {
    fn check(&self, message: &InboundMessage) -> bool {
        // Counting stops one past the limit: a 60 KB body costs no more than a long one.
        let chars = message.message.chars().take(self.max + 1).count();
        if chars == 0 {
            return self.empty_ok || message.media.count > 0;
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

    #[test]
    fn the_upper_bound_alone_lets_an_empty_body_through() {
        let v = Length::at_most(5);
        assert!(v.check(&message("")));
        assert!(v.check(&message("12345")));
        assert!(!v.check(&message("123456")));
    }
}
