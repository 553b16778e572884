//! `parseable`: the message uses only characters a plain text app expects. By default the
//! original framework's set; `charset = "gsm7"` for the GSM 03.38 alphabet; `charset = "unicode"`
//! for anything printable.
//!
//! Phones put typographic punctuation in ordinary texts (iOS turns ' into ’ and -- into —
//! unless the user turns Smart Punctuation off), so before the check each such character is
//! folded to its ASCII form: "It’s fine" passes the ASCII set as "It's fine" would. The handler
//! still receives the text as sent.

use std::borrow::Cow;

use super::validator::Validator;
use crate::domain::InboundMessage;
use crate::twilio::gsm::is_gsm7;

/// Which characters are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Charset {
    /// ASCII letters, digits, whitespace and `! " # $ % & ' ( ) * , - . / : ? @ ^`.
    Ascii,
    /// The GSM 03.38 alphabet with its extension table.
    Gsm7,
    /// Any character that is not a control character (whitespace is fine).
    Unicode,
}

/// Rejects messages with characters outside the charset.
pub(crate) struct Parseable {
    charset: Charset,
}

impl Parseable {
    /// A check for the given charset.
    pub(crate) fn new(charset: Charset) -> Self {
        Parseable { charset }
    }

    /// Builds from settings options (`charset`).
    pub(crate) fn from_options(options: &toml::Table) -> Result<Self, String> {
        let mut charset = Charset::Ascii;
        for (key, value) in options {
            if key != "charset" {
                return Err(format!("has an unknown option `{key}`"));
            }
            charset = match value.as_str() {
                Some("ascii") => Charset::Ascii,
                Some("gsm7") => Charset::Gsm7,
                Some("unicode") => Charset::Unicode,
                _ => {
                    return Err(format!(
                        "`charset` must be \"ascii\", \"gsm7\" or \"unicode\", got {value}"
                    ))
                }
            };
        }
        Ok(Parseable::new(charset))
    }
}

/// The ASCII form of typographic punctuation a phone inserts, when `c` is such a character.
fn typographic(c: char) -> Option<&'static str> {
    Some(match c {
        // ’ ‘ ‛ ′ ‚
        '\u{2019}' | '\u{2018}' | '\u{201B}' | '\u{2032}' => "'",
        '\u{201A}' => ",",
        // “ ” „ ‟ ″
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' => "\"",
        // ‐ ‑ ‒ – — ―
        '\u{2010}'..='\u{2015}' => "-",
        '\u{2026}' => "...",
        // No-break, figure, thin, hair, narrow no-break and other fixed-width spaces.
        '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' => " ",
        _ => return None,
    })
}

/// `text` with typographic punctuation folded to ASCII (borrowed when there is none).
pub(crate) fn fold_typographic(text: &str) -> Cow<'_, str> {
    let Some(first) = text.find(|c| typographic(c).is_some()) else {
        return Cow::Borrowed(text);
    };
    let mut folded = String::with_capacity(text.len());
    folded.push_str(&text[..first]);
    for c in text[first..].chars() {
        match typographic(c) {
            Some(ascii) => folded.push_str(ascii),
            None => folded.push(c),
        }
    }
    Cow::Owned(folded)
}

fn ascii_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || c.is_ascii_whitespace() || "!\"#$%&'()*,-./:?@^".contains(c)
}

impl Validator for Parseable {
    fn check(&self, message: &InboundMessage) -> bool {
        let text = fold_typographic(&message.message);
        match self.charset {
            Charset::Ascii => text.chars().all(ascii_ok),
            Charset::Gsm7 => text.chars().all(is_gsm7),
            Charset::Unicode => text.chars().all(|c| !c.is_control() || c.is_whitespace()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validators::test_support::message;

    #[test]
    fn default_set_takes_plain_text_and_refuses_emoji_and_pipes() {
        let v = Parseable::new(Charset::Ascii);
        assert!(v.check(&message("Mary Kate ")));
        assert!(v.check(&message("what's up? @me #1 (ok) 50% ^^")));
        assert!(!v.check(&message("hi 😀")));
        assert!(!v.check(&message("a|b")));
        assert!(!v.check(&message("back\\slash")));
    }

    #[test]
    fn typographic_punctuation_passes_the_default_set_as_its_ascii_form() {
        let v = Parseable::new(Charset::Ascii);
        for text in [
            "It’s fine",
            "‘single’ and ‛odd’",
            "“Quoted” „low“",
            "Wait – what…",
            "6′2″ tall",
            "one—two ‒ three",
            "no\u{a0}break and\u{202f}narrow",
        ] {
            assert!(v.check(&message(text)), "{text}");
        }
        assert!(!v.check(&message("bad ☃ snowman")));
        assert_eq!(fold_typographic("It’s – fine…"), "It's - fine...");
        assert!(matches!(fold_typographic("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn gsm7_and_unicode_widen_the_set() {
        assert!(Parseable::new(Charset::Gsm7).check(&message("Prix: 5€ {ok}")));
        assert!(!Parseable::new(Charset::Gsm7).check(&message("😀")));
        assert!(Parseable::new(Charset::Unicode).check(&message("😀 ça va")));
        assert!(!Parseable::new(Charset::Unicode).check(&message("bell\u{7}")));
    }

    #[test]
    fn rejects_unknown_charset() {
        let mut options = toml::Table::new();
        options.insert("charset".into(), "latin1".into());
        assert!(Parseable::from_options(&options).is_err());
    }
}
