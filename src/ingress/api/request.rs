//! A create request's JSON body, turned into checked texts: one message object, or
//! `{"messages": [...]}` with at most 1000. Problems are named (index, field, message), the first
//! [`MAX_NAMED_PROBLEMS`] of them, with their total; one bad message means nothing is queued. A
//! key named twice in any object is a problem of the body.

use serde::Serialize;
use serde_json::{Map, Value};

use super::strict_json;
use crate::domain::{FieldError, NewText, TextFields};
use crate::outbound::outbox::MAX_BATCH_TEXTS;

/// One problem of one message of the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct RequestError {
    /// The message's place in the request (0 for a single message); `None` for the body.
    pub index: Option<usize>,
    /// The field, or `body` for the request as a whole.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Most problems one answer names: a 1 MiB body of 100,000 unknown fields is answered with a
/// short list and the count, not a 13 MB one.
pub(super) const MAX_NAMED_PROBLEMS: usize = 100;

/// Why a body was refused.
#[derive(Debug)]
pub(super) enum Refused {
    /// More than [`MAX_BATCH_TEXTS`] messages (413).
    TooMany(usize),
    /// Problems to name (400).
    Invalid(Problems),
}

/// The first [`MAX_NAMED_PROBLEMS`] problems of a request, and how many there were.
#[derive(Debug, Default, Serialize)]
pub(super) struct Problems {
    /// The problems named.
    pub errors: Vec<RequestError>,
    /// How many problems there were in all.
    pub total: usize,
}

impl Problems {
    fn push(&mut self, error: RequestError) {
        self.total += 1;
        if self.errors.len() < MAX_NAMED_PROBLEMS {
            self.errors.push(error);
        }
    }

    fn of_body(message: impl Into<String>) -> Self {
        let mut problems = Problems::default();
        problems.push(RequestError {
            index: None,
            field: "body".into(),
            message: message.into(),
        });
        problems
    }
}

const FIELDS: &[&str] = &[
    "to",
    "body",
    "media_url",
    "send_at",
    "idempotency_key",
    "session",
    "expires_at",
    "validity_s",
    "priority",
    "timezone",
];

/// Reads and checks every message of `body` (JSON bytes); `now` bounds `send_at`.
pub(super) fn parse(body: &[u8], now: u64) -> Result<Vec<NewText>, Refused> {
    parse_value(read_json(body)?, now)
}

fn read_json(body: &[u8]) -> Result<Value, Refused> {
    strict_json::from_slice(body)
        .map_err(|e| Refused::Invalid(Problems::of_body(format!("is not JSON: {e}"))))
}

/// A broadcast request: its texts, and the id of the broadcast it continues, if any.
pub(super) struct BroadcastRequest {
    /// `id`: a broadcast to add the texts to (a retry of a request answered 503, or the next
    /// part of a broadcast over 1000 texts).
    pub id: Option<String>,
    /// The texts, checked; each without its own `priority` takes the broadcast's (`bulk` unless
    /// the request says `"priority": "interactive"`).
    pub texts: Vec<NewText>,
    /// `send_window`: the broadcast's own quiet hours, instead of the topic's (checked).
    pub window: Option<crate::domain::window::WindowSpec>,
}

/// Reads and checks a broadcast: `{"messages": [...], "priority"?, "id"?, "send_window"?}`.
pub(super) fn parse_broadcast(body: &[u8], now: u64) -> Result<BroadcastRequest, Refused> {
    let body_error = |message: &str| Refused::Invalid(Problems::of_body(message));
    let Value::Object(mut object) = read_json(body)? else {
        return Err(body_error("must be a JSON object"));
    };
    let priority = match object.remove("priority") {
        None | Some(Value::Null) => "bulk".to_string(),
        Some(Value::String(p)) if crate::domain::Lane::parse(&p).is_some() => p,
        Some(_) => return Err(body_error("`priority` must be `interactive` or `bulk`")),
    };
    let id = match object.remove("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if crate::outbound::broadcast::is_broadcast_id(&id) => Some(id),
        Some(_) => {
            return Err(body_error(
                "`id` must be a broadcast id (BC and 32 hex digits)",
            ))
        }
    };
    let window = match object.remove("send_window") {
        None | Some(Value::Null) => None,
        Some(value) => {
            let spec: crate::domain::window::WindowSpec = serde_json::from_value(value)
                .map_err(|_| {
                    body_error("`send_window` must be {\"start\": \"HH:MM\", \"end\": \"HH:MM\", \"days\"?: [...]}")
                })?;
            if let Err(problem) = spec.parse() {
                return Err(body_error(&format!("`send_window`: {problem}")));
            }
            Some(spec)
        }
    };
    let Some(Value::Array(mut items)) = object.remove("messages") else {
        return Err(body_error("`messages` must be an array of messages"));
    };
    if let Some(other) = object.keys().next() {
        let shown: String = other.chars().take(40).collect();
        return Err(body_error(&format!(
            "`{shown}` is not a known key (known: messages, priority, id, send_window)"
        )));
    }
    for item in &mut items {
        if let Value::Object(fields) = item {
            fields
                .entry("priority")
                .or_insert_with(|| Value::String(priority.clone()));
        }
    }
    let mut wrapped = Map::new();
    wrapped.insert("messages".into(), Value::Array(items));
    let texts = parse_value(Value::Object(wrapped), now)?;
    Ok(BroadcastRequest { id, texts, window })
}

/// Checks every message of a parsed body.
fn parse_value(value: Value, now: u64) -> Result<Vec<NewText>, Refused> {
    let body_error = |message: &str| Refused::Invalid(Problems::of_body(message));
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
    let mut problems = Problems::default();
    for (index, item) in items.into_iter().enumerate() {
        let mut at = |e: FieldError| {
            problems.push(RequestError {
                index: Some(index),
                field: e.field,
                message: e.message,
            })
        };
        let Value::Object(fields) = item else {
            at(FieldError {
                field: "message".into(),
                message: "must be a JSON object".into(),
            });
            continue;
        };
        let Some(fields) = read_fields(fields, &mut at) else {
            continue;
        };
        match fields.check(now) {
            Ok(text) => texts.push(text),
            Err(errors) => errors.into_iter().for_each(at),
        }
    }
    if problems.total == 0 {
        Ok(texts)
    } else {
        Err(Refused::Invalid(problems))
    }
}

/// The message object's fields as strings; a wrong type or an unknown field is a problem, told
/// to `problem` (`None` when there was one).
fn read_fields(
    object: Map<String, Value>,
    problem: &mut impl FnMut(FieldError),
) -> Option<TextFields> {
    let mut fields = TextFields::default();
    let mut fine = true;
    let mut report = |field: &str, message: String| {
        fine = false;
        problem(FieldError {
            field: field.to_string(),
            message,
        })
    };
    for (name, value) in object {
        if value.is_null() {
            continue;
        }
        let text = value.as_str().map(str::to_string);
        match name.as_str() {
            "to" | "body" | "send_at" | "idempotency_key" | "expires_at" | "priority"
            | "timezone"
                if text.is_none() =>
            {
                report(&name, "must be a string".into())
            }
            "to" => fields.to = text,
            "body" => fields.body = text,
            "send_at" => fields.send_at = text,
            "idempotency_key" => fields.idempotency_key = text,
            "expires_at" => fields.expires_at = text,
            "priority" => fields.priority = text,
            "timezone" => fields.timezone = text,
            "validity_s" => match value.as_u64() {
                Some(seconds) => fields.validity_s = Some(seconds),
                None => report("validity_s", "must be a whole number of seconds".into()),
            },
            "media_url" => match value {
                Value::String(url) => fields.media_urls = vec![url],
                Value::Array(urls) if urls.iter().all(Value::is_string) => {
                    fields.media_urls = urls
                        .into_iter()
                        .filter_map(|u| u.as_str().map(str::to_string))
                        .collect()
                }
                _ => report("media_url", "must be a string or a list of strings".into()),
            },
            "session" => fields.session = Some(value),
            _ => {
                let shown: String = name.chars().take(40).collect();
                report(
                    &shown,
                    format!("is not a known field (known: {})", FIELDS.join(", ")),
                )
            }
        }
    }
    fine.then_some(fields)
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
        let Err(Refused::Invalid(Problems { errors, total })) = parse(
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
        assert_eq!(total, 3);
    }

    #[test]
    fn names_the_first_hundred_problems_and_counts_them_all() {
        let fields: Vec<String> = (0..5000).map(|i| format!(r#""f{i}": 1"#)).collect();
        let body = format!("{{{}}}", fields.join(","));

        let Err(Refused::Invalid(problems)) = parse(body.as_bytes(), NOW) else {
            panic!("refused")
        };

        assert_eq!(problems.errors.len(), MAX_NAMED_PROBLEMS);
        assert_eq!(problems.total, 5000);
    }

    #[test]
    fn a_key_named_twice_is_refused() {
        let twice = parse(
            br#"{"to": "+15551234567", "to": "+15557654321", "body": "x"}"#,
            NOW,
        );
        assert!(matches!(twice, Err(Refused::Invalid(p)) if p.errors[0].field == "body"));
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
