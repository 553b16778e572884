//! TwiML answers to Twilio's webhook: a `<Message>` with XML-escaped text, or `<Response/>`.

const HEADER: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// TwiML for an optional reply text; `None` or empty text answers `<Response/>`.
pub(crate) fn respond(text: Option<&str>) -> String {
    match text.filter(|t| !t.is_empty()) {
        None => format!("{HEADER}<Response/>"),
        Some(text) => format!(
            "{HEADER}<Response><Message>{}</Message></Response>",
            escape(text)
        ),
    }
}

/// Escapes text for XML content and attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_the_message_text() {
        assert_eq!(
            respond(Some("a<b & \"c\"")),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Message>a&lt;b &amp; &quot;c&quot;</Message></Response>"#
        );
    }

    #[test]
    fn answers_nothing_to_say_without_text() {
        assert!(respond(None).ends_with("<Response/>"));
        assert!(respond(Some("")).ends_with("<Response/>"));
    }
}
