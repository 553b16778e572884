//! Settings mistakes are start-up errors naming the key and the problem.

use pyrowire::commands::check::check;

use crate::helpers::{default_topic, settings, twilio_table};

fn problems(topics: &str) -> Vec<String> {
    // `check` builds every topic's handler and validators, as `serve` does.
    let loaded = settings(topics, "unused", "http://127.0.0.1:9").and_then(|s| check(&s));
    match loaded {
        Ok(_) => Vec::new(),
        Err(e) => e.problems().iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn a_missing_handler_is_named() {
    let text = format!("[topics.t]\nworkers = 1\n{}", twilio_table("t"));
    assert_eq!(problems(&text), vec!["`topics.t.handler` is required"]);
}

#[test]
fn a_missing_twilio_field_is_named() {
    let text = "[topics.t]\nhandler = \"echo\"\n[topics.t.twilio]\naccount_sid = \"AC0123456789abcdef0123456789abcdef\"\nauth_token = \"0123456789abcdef0123456789abcdef\"\n";
    assert_eq!(
        problems(text),
        vec!["`topics.t.twilio.from_number` is required unless `messaging_service_sid` is set"]
    );
}

#[test]
fn a_wrong_type_is_named() {
    let text = default_topic("t", r#""echo""#).replace("workers = 2", "workers = \"many\"");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("`topics.t.workers`"), "{found:?}");
    assert!(found[0].contains("many"), "{found:?}");
}

#[test]
fn an_unknown_validator_is_named() {
    let text = default_topic("t", r#""echo""#).replace("profanity =", "profanityy =");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("`topics.t.validators.profanityy` is not a known validator"));
}

#[test]
fn max_message_length_above_1600_is_refused() {
    let text = default_topic("t", r#""echo""#)
        .replace("max_message_length = 160", "max_message_length = 1601");
    assert_eq!(
        problems(&text),
        vec!["`topics.t.max_message_length` must be between 1 and 1600, got 1601"]
    );
}

#[test]
fn an_unknown_key_is_named() {
    let text = default_topic("t", r#""echo""#).replace("workers = 2", "workers = 2\nworkerz = 3");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("`topics.t.workerz` is not a known key"),
        "{found:?}"
    );
}

#[test]
fn an_unknown_handler_is_named() {
    let found = problems(&default_topic("t", r#""nope""#));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("`topics.t.handler` is not a known handler `nope`"),
        "{found:?}"
    );
}

#[test]
fn every_topic_problem_is_reported_at_once() {
    let text = format!(
        "{}{}",
        default_topic("a", r#""echo""#).replace("= 160", "= 0"),
        default_topic("b", r#""echo""#).replace("workers = 2", "workers = 5000")
    );
    let found = problems(&text);
    assert_eq!(found.len(), 2, "{found:?}");
}
