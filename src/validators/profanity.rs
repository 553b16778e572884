//! `profanity`: the maintained `rustrict` word list and matcher, which sees through spacing and
//! character substitution ("f u c k", "sh1t") without flagging innocent words ("class",
//! "assistant", "Scunthorpe"). Words without a single letter (codes, times, phone numbers) are
//! left out of the check: read as letter substitutions, digits spell words often enough to
//! refuse "Hello 1764 3552 0012 3456" or "sent at 1764355200123".

use rustrict::{Censor, Type};

use super::validator::Validator;
use crate::domain::InboundMessage;

/// Rejects profane, offensive or sexual language of moderate or higher severity.
pub(crate) struct Profanity;

impl Profanity {
    fn threshold() -> Type {
        (Type::PROFANE | Type::OFFENSIVE | Type::SEXUAL) & Type::MODERATE_OR_HIGHER
    }
}

/// A word with digits and no letters: a number, code, time or phone number.
fn is_number_like(word: &str) -> bool {
    word.chars().any(|c| c.is_ascii_digit()) && !word.chars().any(char::is_alphabetic)
}

impl Validator for Profanity {
    fn check(&self, message: &InboundMessage) -> bool {
        let text = &message.message;
        let analysis = if text.split_whitespace().any(is_number_like) {
            let words: Vec<&str> = text
                .split_whitespace()
                .filter(|w| !is_number_like(w))
                .collect();
            Censor::from_str(&words.join(" ")).analyze()
        } else {
            Censor::from_str(text).analyze()
        };
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
