//! A topic's Twilio account and sender: SID forms, a token, a number or a messaging service, the
//! API base URL.

use super::urls::is_http_url;
use crate::settings::problem::push;
use crate::settings::problem::Problem;
use crate::settings::{TopicSettings, TwilioSettings};

pub(super) fn check_twilio(key: &str, topic: &TopicSettings, problems: &mut Vec<Problem>) {
    let twilio = &topic.twilio;
    let sid = &twilio.account_sid;
    if !is_sid(sid, "AC") {
        push(
            problems,
            format!("{key}.twilio.account_sid"),
            format!("must be `AC` followed by 32 hex digits, got `{sid}`"),
        );
    }
    if twilio.auth_token.expose().trim().is_empty() {
        push(
            problems,
            format!("{key}.twilio.auth_token"),
            "must not be empty".into(),
        );
    }
    check_sender(key, twilio, problems);
    if !is_http_url(&twilio.api_base) {
        push(
            problems,
            format!("{key}.twilio.api_base"),
            format!("must be an http(s) URL, got `{}`", twilio.api_base),
        );
    }
}

/// A topic sends from its number or through its messaging service; with both, the service is
/// used and the number is not sent (Twilio would take a `From` beside the service only as a pick
/// from the service's own sender pool).
fn check_sender(key: &str, twilio: &TwilioSettings, problems: &mut Vec<Problem>) {
    if let Some(number) = twilio.from_number.as_deref().filter(|n| !is_sender(n)) {
        push(
            problems,
            format!("{key}.twilio.from_number"),
            format!("must be an E.164 number such as +15005550006 or a short code, got `{number}`"),
        );
    }
    if let Some(sid) = twilio.messaging_service_sid.as_deref() {
        if !is_sid(sid, "MG") {
            push(
                problems,
                format!("{key}.twilio.messaging_service_sid"),
                format!("must be `MG` followed by 32 hex digits, got `{sid}`"),
            );
        }
    } else if twilio.from_number.is_none() {
        push(
            problems,
            format!("{key}.twilio.from_number"),
            "is required unless `messaging_service_sid` is set".into(),
        );
    }
}

/// Whether `sid` is `prefix` followed by 32 hex digits, as Twilio's SIDs are.
fn is_sid(sid: &str, prefix: &str) -> bool {
    sid.strip_prefix(prefix)
        .is_some_and(|hex| hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

fn is_sender(number: &str) -> bool {
    let e164 = crate::domain::is_e164;
    let short_code = (3..=8).contains(&number.len()) && number.chars().all(|c| c.is_ascii_digit());
    let channel = number.split_once(':').is_some_and(|(channel, rest)| {
        channel.chars().all(|c| c.is_ascii_lowercase()) && e164(rest)
    });
    e164(number) || short_code || channel
}
