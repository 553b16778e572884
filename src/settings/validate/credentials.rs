//! Credentials nobody should run with: placeholder Twilio tokens and SIDs where signatures are
//! checked or texts really sent, and a short or placeholder outbound API token anywhere. Values
//! are never printed.

use crate::settings::problem::push;
use crate::settings::problem::Problem;
use crate::settings::{Profile, TopicSettings};

/// Auth tokens shipped in example files or commonly left in templates. Compared case-insensitively.
const PLACEHOLDER_TOKENS: &[&str] = &[
    "placeholder",
    "changeme",
    "change-me",
    "change_me",
    "secret",
    "token",
    "auth_token",
    "your_auth_token",
];

/// Whether an auth token is a known placeholder: one of [`PLACEHOLDER_TOKENS`], or one character
/// repeated (`00000000…`, `xxxx…`).
pub(crate) fn is_placeholder_token(token: &str) -> bool {
    let token = token.trim();
    let repeated = token
        .chars()
        .next()
        .is_some_and(|first| token.chars().all(|c| c == first));
    repeated
        || PLACEHOLDER_TOKENS
            .iter()
            .any(|p| p.eq_ignore_ascii_case(token))
}

/// Whether an account SID is the all-zero placeholder (`AC000…0`).
pub(crate) fn is_placeholder_sid(sid: &str) -> bool {
    sid.strip_prefix("AC")
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c == '0'))
}

/// Refuses placeholder credentials in a profile that checks signatures or sends for real. The
/// value itself is never printed.
pub(super) fn check_no_placeholders(
    name: &str,
    topic: &TopicSettings,
    profile_name: &str,
    problems: &mut Vec<Problem>,
) {
    let twilio = &topic.twilio;
    let why = |variable: &str| {
        format!(
            "profile `{profile_name}` checks signatures or sends for real (dry_run = false), so \
             it needs the real value (set it through the environment, e.g. ${variable})"
        )
    };
    let tokens = [("auth_token", Some(&twilio.auth_token))]
        .into_iter()
        .chain([("secondary_auth_token", twilio.secondary_auth_token.as_ref())]);
    for (key, token) in tokens {
        if token.is_some_and(|t| is_placeholder_token(t.expose())) {
            push(
                problems,
                format!("topics.{name}.twilio.{key}"),
                format!(
                    "is a placeholder, not a Twilio auth token: {}",
                    why("TWILIO_AUTH_TOKEN")
                ),
            );
        }
    }
    if topic
        .events_secret
        .as_ref()
        .is_some_and(|s| s.expose() == super::events::EXAMPLE_SECRET)
    {
        push(
            problems,
            format!("topics.{name}.events_secret"),
            format!(
                "is the Standard Webhooks spec's example secret, which anyone can sign with: {}",
                why("EVENTS_SECRET")
            ),
        );
    }
    if is_placeholder_sid(&twilio.account_sid) {
        push(
            problems,
            format!("topics.{name}.twilio.account_sid"),
            format!(
                "is the placeholder `{}`: {}",
                twilio.account_sid,
                why("TWILIO_ACCOUNT_SID")
            ),
        );
    }
}

/// Shortest `api_token` accepted: it opens sending to anyone, so it must not be guessable.
pub(crate) const MIN_API_TOKEN_CHARS: usize = 24;

/// A set `api_token` must be long and no placeholder, in every profile: it lets a stranger
/// text anyone on the account's bill. The value itself is never printed.
pub(super) fn check_api_token(profile: &Profile, key: &str, problems: &mut Vec<Problem>) {
    let Some(token) = profile
        .api_token
        .as_ref()
        .map(|t| t.expose().trim().to_string())
    else {
        return;
    };
    if token.is_empty() {
        return;
    }
    if token.chars().count() < MIN_API_TOKEN_CHARS || is_placeholder_token(&token) {
        push(
            problems,
            format!("{key}.api_token"),
            format!(
                "must be at least {MIN_API_TOKEN_CHARS} characters and not a placeholder \
                 (e.g. `openssl rand -hex 24`), or empty to turn the outbound API off"
            ),
        );
    }
}
