//! Twilio's opt-out, opt-in and help keywords. Only a message that is just the keyword counts
//! (case-insensitive, surrounding whitespace ignored). With Advanced Opt-Out (a Messaging
//! Service's own or other-language keywords, such as "PARAR"), Twilio names what it took a
//! message for in the webhook's `OptOutType` (`STOP`, `START`, `HELP`), which then counts whatever
//! the body says. Ingress answers them itself: the handler never runs for them.

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

const OPT_OUT: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
];
const OPT_IN: &[&str] = &["START", "YES", "UNSTOP"];
const HELP: &[&str] = &["HELP", "INFO"];

/// The keyword a message body is, if it is one.
pub(crate) fn keyword(body: &str) -> Option<Keyword> {
    let word = body.trim();
    let is = |list: &[&str]| list.iter().any(|k| k.eq_ignore_ascii_case(word));
    if is(OPT_OUT) {
        Some(Keyword::OptOut)
    } else if is(OPT_IN) {
        Some(Keyword::OptIn)
    } else if is(HELP) {
        Some(Keyword::Help)
    } else {
        None
    }
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
        assert_eq!(keyword(" stop "), Some(Keyword::OptOut));
        assert_eq!(keyword("Unsubscribe"), Some(Keyword::OptOut));
        assert_eq!(keyword("START"), Some(Keyword::OptIn));
        assert_eq!(keyword("info\n"), Some(Keyword::Help));
        assert_eq!(keyword("please stop"), None);
        assert_eq!(keyword("stopped"), None);
        assert_eq!(keyword(""), None);
    }

    #[test]
    fn names_the_keyword_of_twilios_opt_out_type() {
        assert_eq!(opt_out_type("STOP"), Some(Keyword::OptOut));
        assert_eq!(opt_out_type("start"), Some(Keyword::OptIn));
        assert_eq!(opt_out_type("HELP"), Some(Keyword::Help));
        assert_eq!(opt_out_type("OTHER"), None);
    }
}
