//! A create request's JSON body, turned into checked texts: one message object, or
//! `{"messages": [...]}` with at most 1000. Every problem of every message is named (index,
//! field, message); one bad message means nothing is queued.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::{FieldError, NewText, TextFields};
use crate::outbound::outbox::MAX_BATCH_TEXTS;

/// One problem of one message of the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestError {
    /// The message's place in the request (0 for a single message); `None` for the body.
    pub index: Option<usize>,
    /// The field, or `body` for the request as a whole.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Why a body was refused.
#[derive(Debug)]
pub enum Refused {
    /// More than [`MAX_BATCH_TEXTS`] messages (413).
    TooMany(usize),
    /// Problems to name (400).
    Invalid(Vec<RequestError>),
}

const FIELDS: &[&str] = &["to", "body", "media_url", "send_at", "idempotency_key"];

/// Reads and checks every message of `body` (JSON bytes); `now` bounds `send_at`.
pub fn parse(body: &[u8], now: u64) -> Result<Vec<NewText>, Refused> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Refused::Invalid(vec![RequestError {
            index: None,
            field: "body".into(),
            message: format!("is not JSON: {e}"),
        }])
    })?;
    let body_error = |message: &str| {
        Refused::Invalid(vec![RequestError {
            index: None,
            field: "body".into(),
            message: message.into(),
        }])
    };
    let Value::Object(mut object) = value else {
        return Err(body_error("must be a JSON object"));
    };
    let alone = object.len() == 1;
    let items: Vec<Value> = match object.remove("messages") {
        Some(Value::Array(items)) if alone => items,
        Some(_) => {
            return Err(body_error(
                "`messages` must be an array, and the only key beside it",
            ))
        }
        None => vec![Value::Object(object)],
    };
    if items.len() > MAX_BATCH_TEXTS {
        return Err(Refused::TooMany(items.len()));
    }
    if items.is_empty() {
        return Err(body_error("`messages` must not be empty"));
    }
    let mut texts = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let at = |e: FieldError| RequestError {
            index: Some(index),
            field: e.field,
            message: e.message,
        };
        let Value::Object(fields) = item else {
            errors.push(RequestError {
                index: Some(index),
                field: "message".into(),
                message: "must be a JSON object".into(),
            });
            continue;
        };
        match read_fields(fields) {
            Ok(fields) => match fields.check(now) {
                Ok(text) => texts.push(text),
                Err(problems) => errors.extend(problems.into_iter().map(at)),
            },
            Err(problems) => errors.extend(problems.into_iter().map(at)),
        }
    }
    if errors.is_empty() {
        Ok(texts)
    } else {
        Err(Refused::Invalid(errors))
    }
}

/// The message object's fields as strings; a wrong type or an unknown field is a problem.
fn read_fields(object: Map<String, Value>) -> Result<TextFields, Vec<FieldError>> {
    let mut fields = TextFields::default();
    let mut errors = Vec::new();
    let problem = |field: &str, message: &str| FieldError {
        field: field.to_string(),
        message: message.to_string(),
    };
    for (name, value) in object {
        if value.is_null() {
            continue;
        }
        let text = value.as_str().map(str::to_string);
        match name.as_str() {
            "to" | "body" | "send_at" | "idempotency_key" if text.is_none() => {
                errors.push(problem(&name, "must be a string"))
            }
            "to" => fields.to = text,
            "body" => fields.body = text,
            "send_at" => fields.send_at = text,
            "idempotency_key" => fields.idempotency_key = text,
            "media_url" => match value {
                Value::String(url) => fields.media_urls = vec![url],
                Value::Array(urls) if urls.iter().all(Value::is_string) => {
                    fields.media_urls = urls
                        .into_iter()
                        .filter_map(|u| u.as_str().map(str::to_string))
                        .collect()
                }
                _ => errors.push(problem(
                    "media_url",
                    "must be a string or a list of strings",
                )),
            },
            _ => {
                let shown: String = name.chars().take(40).collect();
                errors.push(FieldError {
                    field: shown,
                    message: format!("is not a known field (known: {})", FIELDS.join(", ")),
                })
            }
        }
    }
    if errors.is_empty() {
        Ok(fields)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_790_000_000_000;

    #[test]
    fn one_message_or_a_list() {
        let one = parse(br#"{"to": "+15551234567", "body": "hi"}"#, NOW).unwrap();
        assert_eq!(one.len(), 1);
        let many = parse(
            br#"{"messages": [{"to": "+15551234567", "body": "a"},
                {"to": "+15551234568", "media_url": ["https://x/a.png"]}]}"#,
            NOW,
        )
        .unwrap();
        assert_eq!(many.len(), 2);
        assert_eq!(many[1].content.media_urls, vec!["https://x/a.png"]);
    }

    #[test]
    fn every_problem_is_named_with_its_index() {
        let Err(Refused::Invalid(errors)) = parse(
            br#"{"messages": [{"to": "+15551234567", "body": "ok"},
                {"to": 5, "body": "x", "colour": "red"}, "nope"]}"#,
            NOW,
        ) else {
            panic!("refused")
        };
        let named: Vec<(Option<usize>, &str)> =
            errors.iter().map(|e| (e.index, e.field.as_str())).collect();
        assert_eq!(
            named,
            vec![(Some(1), "to"), (Some(1), "colour"), (Some(2), "message")]
        );
    }

    #[test]
    fn too_many_and_not_json() {
        let items: Vec<String> = (0..1001)
            .map(|_| r#"{"to":"+15551234567","body":"x"}"#.to_string())
            .collect();
        let body = format!(r#"{{"messages": [{}]}}"#, items.join(","));
        assert!(matches!(
            parse(body.as_bytes(), NOW),
            Err(Refused::TooMany(1001))
        ));
        assert!(matches!(parse(b"to=+1", NOW), Err(Refused::Invalid(_))));
    }
}
