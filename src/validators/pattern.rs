//! Declarative validators from settings: a regex the text must match (`must_match`) and/or must
//! not match (`must_not_match`).

use regex::Regex;

use super::validator::Validator;
use crate::domain::InboundMessage;

/// A regex check compiled once at start-up.
pub(crate) struct Pattern {
    must_match: Option<Regex>,
    must_not_match: Option<Regex>,
}

impl Pattern {
    /// Whether the options describe a pattern validator.
    pub(crate) fn applies(options: &toml::Table) -> bool {
        options.contains_key("must_match") || options.contains_key("must_not_match")
    }

    /// Builds from settings options; a bad regex is an error naming the option.
    pub(crate) fn from_options(options: &toml::Table) -> Result<Self, String> {
        let mut pattern = Pattern {
            must_match: None,
            must_not_match: None,
        };
        for (key, value) in options {
            let slot = match key.as_str() {
                "must_match" => &mut pattern.must_match,
                "must_not_match" => &mut pattern.must_not_match,
                other => return Err(format!("has an unknown option `{other}`")),
            };
            let source = value
                .as_str()
                .ok_or_else(|| format!("`{key}` must be a string (a regular expression)"))?;
            let regex = Regex::new(source)
                .map_err(|e| format!("`{key}` is not a valid regular expression: {e}"))?;
            *slot = Some(regex);
        }
        Ok(pattern)
    }
}

impl Validator for Pattern {
    fn check(&self, message: &InboundMessage) -> bool {
        let text = &message.message;
        self.must_match.as_ref().is_none_or(|r| r.is_match(text))
            && self
                .must_not_match
                .as_ref()
                .is_none_or(|r| !r.is_match(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validators::test_support::message;

    fn options(key: &str, value: &str) -> toml::Table {
        let mut table = toml::Table::new();
        table.insert(key.into(), value.into());
        table
    }

    #[test]
    fn must_match_and_must_not_match() {
        let yo = Pattern::from_options(&options("must_match", r"(?i)\byo\b")).unwrap();
        assert!(yo.check(&message("Yo momma")));
        assert!(!yo.check(&message("young")));
        let no_urls = Pattern::from_options(&options("must_not_match", "https?://")).unwrap();
        assert!(!no_urls.check(&message("see http://x")));
    }

    #[test]
    fn reports_a_bad_regex() {
        let err = Pattern::from_options(&options("must_match", "("))
            .err()
            .unwrap();
        assert!(err.contains("must_match"), "{err}");
    }
}
