//! `profanity`: the maintained `rustrict` word list and matcher, which sees through spacing and
//! character substitution ("f u c k", "sh1t") without flagging innocent words ("class",
//! "assistant", "Scunthorpe").

use rustrict::{Censor, Type};

use super::Validator;
use crate::domain::InboundMessage;

/// Rejects profane, offensive or sexual language of moderate or higher severity.
pub struct Profanity;

impl Profanity {
    fn threshold() -> Type {
        (Type::PROFANE | Type::OFFENSIVE | Type::SEXUAL) & Type::MODERATE_OR_HIGHER
    }
}

impl Validator for Profanity {
    fn check(&self, message: &InboundMessage) -> bool {
        let analysis = Censor::from_str(&message.message).analyze();
        !analysis.is(Self::threshold())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validators::test_support::message;

    #[test]
    fn flags_profanity_even_when_spaced_out() {
        for text in ["fuck", "what the FUCK", "f u c k", "s h i t", "sh1t"] {
            assert!(!Profanity.check(&message(text)), "{text} should be flagged");
        }
    }

    #[test]
    fn leaves_innocent_words_alone() {
        for text in [
            "class",
            "assistant",
            "Scunthorpe",
            "Frank",
            "Joe Bob",
            "Mary Kate ",
        ] {
            assert!(Profanity.check(&message(text)), "{text} should pass");
        }
    }
}
