//! Opt-out, opt-in and help keywords: Twilio's own (which carriers require and Twilio acts on
//! whatever pyrowire does) and a topic's additions (`[topics.X.keywords]`). A message counts as a
//! keyword when it is just the keyword: case, surrounding whitespace, runs of inner whitespace
//! and trailing punctuation are ignored ("Stop.", "stop!", "Opt  out" count). With Advanced
//! Opt-Out (a Messaging Service's own or other-language keywords, such as "PARAR"), Twilio names
//! what it took a message for in the webhook's `OptOutType` (`STOP`, `START`, `HELP`), which then
//! counts whatever the body says.

use std::collections::HashMap;

use crate::settings::KeywordSettings;

/// What a keyword asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    /// Stop texting this number (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT).
    OptOut,
    /// Texting may resume (START, YES, UNSTOP).
    OptIn,
    /// Answer the topic's help text (HELP, INFO).
    Help,
}

impl Keyword {
    /// The name a handler sees in the message's `keyword` field (`opt_in`, `help`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Keyword::OptOut => "opt_out",
            Keyword::OptIn => "opt_in",
            Keyword::Help => "help",
        }
    }
}

/// Twilio's default keywords (TWILIO.md).
pub(crate) const OPT_OUT: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
];
pub(crate) const OPT_IN: &[&str] = &["START", "YES", "UNSTOP"];
pub(crate) const HELP: &[&str] = &["HELP", "INFO"];

/// Longest keyword a topic may add, in characters (after [`normalize`]).
pub(crate) const MAX_KEYWORD_CHARS: usize = 64;

/// Most keywords a topic may add to each list.
pub(crate) const MAX_KEYWORDS: usize = 100;

/// A topic's keywords: Twilio's and its own, normalized.
#[derive(Debug, Clone)]
pub(crate) struct Keywords {
    words: HashMap<String, Keyword>,
    /// The keywords' lengths in characters, as a bit set (bit n: a keyword of n characters):
    /// a text whose normalized length is none of them is no keyword, and is told so without
    /// building its normalized form.
    lengths: u128,
}

impl Default for Keywords {
    fn default() -> Self {
        Keywords::of(&KeywordSettings::default())
    }
}

impl Keywords {
    /// Twilio's keywords plus the topic's (a topic's word that Twilio already has keeps Twilio's
    /// meaning: settings validation refuses such a clash).
    pub(crate) fn of(settings: &KeywordSettings) -> Self {
        let mut words = HashMap::new();
        let lists = [
            (Keyword::OptOut, OPT_OUT, &settings.opt_out),
            (Keyword::OptIn, OPT_IN, &settings.opt_in),
            (Keyword::Help, HELP, &settings.help),
        ];
        for (keyword, defaults, _) in &lists {
            for word in *defaults {
                words.insert(normalize(word), *keyword);
            }
        }
        for (keyword, _, own) in &lists {
            for word in own.iter() {
                words.entry(normalize(word)).or_insert(*keyword);
            }
        }
        // Keywords are at most MAX_KEYWORD_CHARS (64) characters: each length has its bit.
        let lengths = words
            .keys()
            .map(|w| w.chars().count())
            .filter(|n| *n < 128)
            .fold(0u128, |set, n| set | 1 << n);
        Keywords { words, lengths }
    }

    /// The keyword a message body is, if it is one. Every webhook asks, so an ordinary text is
    /// answered without allocating: only a text whose normalized length is a keyword's is
    /// normalized and looked up.
    pub(crate) fn keyword(&self, body: &str) -> Option<Keyword> {
        // A first bound in bytes (a character is at most 4), then the exact length.
        if body.len() > 4 * (2 * MAX_KEYWORD_CHARS) {
            return None;
        }
        let length = normalized_chars(body).take(128).count();
        if length >= 128 || self.lengths & (1 << length) == 0 {
            return None;
        }
        self.words.get(&normalize(body)).copied()
    }

    /// Which list already holds `word` (normalized), if one does.
    pub(crate) fn meaning(&self, word: &str) -> Option<Keyword> {
        self.words.get(&normalize(word)).copied()
    }
}

/// A message as keywords are compared: lowercase, trailing punctuation and symbols dropped,
/// whitespace trimmed and inner runs of it made one space.
pub(crate) fn normalize(text: &str) -> String {
    normalized_chars(text).collect()
}

/// The characters of [`normalize`]'s answer, without building it.
fn normalized_chars(text: &str) -> impl Iterator<Item = char> + '_ {
    let trimmed = text
        .trim()
        .trim_end_matches(|c: char| !c.is_alphanumeric() && !c.is_whitespace())
        .trim_end();
    trimmed
        .split_whitespace()
        .enumerate()
        .flat_map(|(i, word)| {
            let space = (i > 0).then_some(' ');
            space
                .into_iter()
                .chain(word.chars().flat_map(char::to_lowercase))
        })
}

/// The keyword a webhook's `OptOutType` names, if it names one.
pub(crate) fn opt_out_type(value: &str) -> Option<Keyword> {
    match value.trim() {
        t if t.eq_ignore_ascii_case("STOP") => Some(Keyword::OptOut),
        t if t.eq_ignore_ascii_case("START") => Some(Keyword::OptIn),
        t if t.eq_ignore_ascii_case("HELP") => Some(Keyword::Help),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_whole_keywords_only() {
        let keywords = Keywords::default();
        assert_eq!(keywords.keyword(" stop "), Some(Keyword::OptOut));
        assert_eq!(keywords.keyword("Unsubscribe"), Some(Keyword::OptOut));
        assert_eq!(keywords.keyword("START"), Some(Keyword::OptIn));
        assert_eq!(keywords.keyword("info\n"), Some(Keyword::Help));
        assert_eq!(keywords.keyword("please stop"), None);
        assert_eq!(keywords.keyword("stopped"), None);
        assert_eq!(keywords.keyword(""), None);
        assert_eq!(keywords.keyword(&"stop ".repeat(1000)), None);
    }

    #[test]
    fn ignores_case_spaces_and_trailing_punctuation() {
        let keywords = Keywords::default();
        for text in [
            "Stop.", "stop!", "STOP!!!", " stop ?", "Yes!", "yes.", "Help?",
        ] {
            assert!(keywords.keyword(text).is_some(), "{text:?}");
        }
        assert_eq!(keywords.keyword(".stop"), None);
        assert_eq!(normalize("  Opt \t Out!! "), "opt out");
        assert_eq!(normalize("ARRÊT."), "arrêt");
    }

    #[test]
    fn a_topic_adds_its_own_words_multi_word_ones_too() {
        let settings = KeywordSettings {
            opt_out: vec!["parar".into(), "Opt Out".into()],
            opt_in: vec!["sí".into()],
            help: vec!["ayuda".into()],
        };
        let keywords = Keywords::of(&settings);
        assert_eq!(keywords.keyword("Parar."), Some(Keyword::OptOut));
        assert_eq!(keywords.keyword("opt   out"), Some(Keyword::OptOut));
        assert_eq!(keywords.keyword("STOP"), Some(Keyword::OptOut));
        assert_eq!(keywords.keyword("SÍ!"), Some(Keyword::OptIn));
        assert_eq!(keywords.keyword("ayuda"), Some(Keyword::Help));
        assert_eq!(keywords.keyword("opt"), None);
    }

    #[test]
    fn names_the_keyword_of_twilios_opt_out_type() {
        assert_eq!(opt_out_type("STOP"), Some(Keyword::OptOut));
        assert_eq!(opt_out_type("start"), Some(Keyword::OptIn));
        assert_eq!(opt_out_type("HELP"), Some(Keyword::Help));
        assert_eq!(opt_out_type("OTHER"), None);
    }
}
