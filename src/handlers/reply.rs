//! `reply`: a fixed template. `{field}` is replaced by a message field (`{message}`, `{number}`,
//! `{from_city}`, ... or any Twilio parameter by its own name); `{{` and `}}` write braces.
//! Optional `media_url` (a string or a list) attaches media.

use std::sync::Arc;

use futures_util::future::{ready, LocalBoxFuture};
use futures_util::FutureExt;

use super::context::HandlerContext;
use super::error::HandlerError;
use super::handler::Handler;
use crate::domain::{InboundMessage, Reply};

/// A piece of a parsed template (`pyrowire send --csv` fills its `--body` from the same parse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Text written as it is (`{{` and `}}` already turned into braces).
    Text(String),
    /// A `{name}` placeholder.
    Field(String),
}

/// A parsed reply template.
pub(crate) struct Template {
    text: Option<Vec<Piece>>,
    media_urls: Vec<String>,
}

impl Template {
    /// Builds from settings options: `text` and/or `media_url`.
    pub(crate) fn from_options(options: &toml::Table) -> Result<Arc<dyn Handler>, String> {
        let mut text = None;
        let mut media_urls = Vec::new();
        for (key, value) in options {
            match key.as_str() {
                "text" => {
                    let source = value.as_str().ok_or("`text` must be a string")?;
                    text = Some(parse(source).map_err(|e| format!("`text` {e}"))?);
                }
                "media_url" => media_urls = media_list(value)?,
                other => return Err(format!("has an unknown option `{other}`")),
            }
        }
        if text.is_none() && media_urls.is_empty() {
            return Err("needs `text` or `media_url`".into());
        }
        Ok(Arc::new(Template { text, media_urls }))
    }

    fn render(&self, message: &InboundMessage) -> Option<String> {
        let pieces = self.text.as_ref()?;
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Field(name) => out.push_str(&message.field(name).unwrap_or_default()),
            }
        }
        Some(out)
    }
}

fn media_list(value: &toml::Value) -> Result<Vec<String>, String> {
    let urls: Vec<String> = match value {
        toml::Value::String(url) => vec![url.clone()],
        toml::Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or("`media_url` must be a string or a list of strings")?,
        _ => return Err("`media_url` must be a string or a list of strings".into()),
    };
    if urls.len() > 10 {
        return Err("`media_url` may list at most 10 URLs".into());
    }
    match urls
        .iter()
        .find(|u| !(u.starts_with("https://") || u.starts_with("http://")))
    {
        Some(bad) => Err(format!("`media_url` must hold http(s) URLs, got `{bad}`")),
        None => Ok(urls),
    }
}

/// Parses a template; the error completes a sentence naming the template ("`text` has ...").
pub(crate) fn parse(source: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let mut name = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    name.push(c);
                }
                let plain = closed
                    && !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !plain {
                    return Err(format!("has a bad placeholder `{{{name}`"));
                }
                pieces.push(Piece::Text(std::mem::take(&mut text)));
                pieces.push(Piece::Field(name));
            }
            '}' => return Err("has a `}` without `{` (write `}}` for a brace)".into()),
            c => text.push(c),
        }
    }
    pieces.push(Piece::Text(text));
    Ok(pieces)
}

impl Handler for Template {
    fn handle<'a>(
        &'a self,
        message: &'a InboundMessage,
        _context: &'a HandlerContext,
    ) -> LocalBoxFuture<'a, Result<Reply, HandlerError>> {
        let reply = Reply {
            text: self.render(message),
            media_urls: self.media_urls.clone(),
        };
        ready(Ok(reply)).boxed_local()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_fields_and_keeps_escaped_braces() {
        let pieces = parse("Thanks, {number}! {{ok}} You said: {message}").unwrap();
        let template = Template {
            text: Some(pieces),
            media_urls: vec![],
        };
        let params = vec![
            ("From".to_string(), "+15551234567".to_string()),
            ("MessageSid".to_string(), "SM1".to_string()),
            ("Body".to_string(), "hi".to_string()),
        ];
        let message = InboundMessage::from_params("t", &params).unwrap();
        assert_eq!(
            template.render(&message).unwrap(),
            "Thanks, +15551234567! {ok} You said: hi"
        );
    }

    #[test]
    fn rejects_bad_templates_and_options() {
        assert!(parse("{oops").is_err());
        assert!(parse("a } b").is_err());
        let mut options = toml::Table::new();
        options.insert("colour".into(), "red".into());
        assert!(Template::from_options(&options).is_err());
        assert!(Template::from_options(&toml::Table::new()).is_err());
    }
}
