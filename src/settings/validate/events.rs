//! A topic's events keys: `events_url` an http(s) URL, and with it `events_secret`, a Standard
//! Webhooks secret (`whsec_` + the base64 of a 24 to 64 byte key). The secret is never printed.

use super::urls::is_http_url;
use crate::events::EventsKey;
use crate::settings::problem::{push, Problem};
use crate::settings::TopicSettings;

/// The secret of the Standard Webhooks spec's own examples: anyone can sign with it.
pub(super) const EXAMPLE_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

pub(super) fn check_events(key: &str, topic: &TopicSettings, problems: &mut Vec<Problem>) {
    match (&topic.events_url, &topic.events_secret) {
        (None, None) => {}
        (None, Some(_)) => push(
            problems,
            format!("{key}.events_secret"),
            "has no use without `events_url`".into(),
        ),
        (Some(url), secret) => {
            if !is_http_url(url) {
                push(
                    problems,
                    format!("{key}.events_url"),
                    format!("must be an http(s) URL, got `{url}`"),
                );
            }
            match secret {
                None => push(
                    problems,
                    format!("{key}.events_secret"),
                    "is required with `events_url`: events are always signed (make one with \
                     `echo whsec_$(head -c 32 /dev/urandom | base64)`)"
                        .into(),
                ),
                Some(secret) => {
                    if let Err(problem) = EventsKey::parse(secret.expose()) {
                        push(problems, format!("{key}.events_secret"), problem);
                    }
                }
            }
        }
    }
}
