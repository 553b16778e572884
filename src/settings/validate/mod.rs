//! Checks that serde cannot express: ranges, formats, and relations between keys. Each problem
//! names its key and the bad value; all problems are collected, not only the first. The profile
//! and topic checks are here; the Redis connection forms in `redis`, a topic's Twilio account
//! and sender in `twilio`, placeholder credentials and the API token in `credentials`.

pub(super) mod credentials;
mod events;
mod redis;
mod twilio;
mod urls;

use super::problem::{push, Problem};
use super::{Profile, Settings, TopicSettings, MAX_BODY_CHARS};
use credentials::{check_api_token, check_no_placeholders};
use events::check_events;
use redis::check_redis;
use twilio::check_twilio;
use urls::is_http_url;

/// Most worker actors one topic may run in one process.
pub(super) const MAX_WORKERS: usize = 1024;

pub(super) fn validate(settings: &Settings, problems: &mut Vec<Problem>) {
    let profile_key = format!("profiles.{}", settings.profile_name);
    check_profile(&settings.profile, &profile_key, problems);
    let profile = &settings.profile;
    // Placeholders are harmless only where nothing trusts or spends them: no signature is checked
    // (a known key would let anyone forge a webhook) and no text is really sent.
    let strict = profile.signatures_checked(&settings.profile_name) || !profile.dry_run;
    for (name, topic) in &settings.topics {
        check_topic(name, topic, problems);
        if strict {
            check_no_placeholders(name, topic, &settings.profile_name, problems);
        }
    }
}

/// Longest `session_ttl_s`: a year.
const MAX_SESSION_TTL_S: u64 = 366 * 24 * 3600;

fn check_profile(profile: &Profile, key: &str, problems: &mut Vec<Problem>) {
    if profile.host.trim().is_empty() {
        push(problems, format!("{key}.host"), "must not be empty".into());
    }
    check_redis(profile, key, problems);
    check_api_token(profile, key, problems);
    let prefix = &profile.redis_prefix;
    if prefix.is_empty() || prefix.contains(['{', '}', ' ']) {
        push(
            problems,
            format!("{key}.redis_prefix"),
            format!("must be non-empty without braces or spaces, got `{prefix}`"),
        );
    }
    if !profile.public_url.is_empty() && !is_http_url(&profile.public_url) {
        push(
            problems,
            format!("{key}.public_url"),
            format!(
                "must be empty or an http(s) URL, got `{}`",
                profile.public_url
            ),
        );
    }
    for (name, value) in [
        ("claim_idle_ms", profile.claim_idle_ms),
        ("dedup_ttl_s", profile.dedup_ttl_s),
        ("record_ttl_s", profile.record_ttl_s),
        ("dead_letter_ttl_s", profile.dead_letter_ttl_s),
        ("max_queue_depth", profile.max_queue_depth),
        ("max_bulk_depth", profile.max_bulk_depth),
        ("twilio_timeout_ms", profile.twilio_timeout_ms),
        ("request_timeout_ms", profile.request_timeout_ms),
        ("max_connections", profile.max_connections as u64),
        (
            "twilio_max_connections",
            profile.twilio_max_connections as u64,
        ),
    ] {
        if value == 0 {
            push(problems, format!("{key}.{name}"), "must be above 0".into());
        }
    }
}

fn check_topic(name: &str, topic: &TopicSettings, problems: &mut Vec<Problem>) {
    let key = format!("topics.{name}");
    if !is_topic_name(name) {
        push(
            problems,
            key.clone(),
            "is not a valid topic name (use 1-64 letters, digits, `_` or `-`)".into(),
        );
    }
    let max = topic.max_message_length;
    if max == 0 || max > MAX_BODY_CHARS {
        push(
            problems,
            format!("{key}.max_message_length"),
            format!("must be between 1 and {MAX_BODY_CHARS}, got {max}"),
        );
    }
    if topic.workers > MAX_WORKERS {
        push(
            problems,
            format!("{key}.workers"),
            format!("must be at most {MAX_WORKERS}, got {}", topic.workers),
        );
    }
    if topic.handler.kind().is_none() {
        push(
            problems,
            format!("{key}.handler.kind"),
            "is required when `handler` is a table".into(),
        );
    }
    check_rates(&key, topic, problems);
    if let Err((name, problem)) = topic.window_checked() {
        push(problems, format!("{key}.{name}"), problem);
    }
    check_keywords(&key, topic, problems);
    check_retry(&key, topic, problems);
    check_events(&key, topic, problems);
    check_twilio(&key, topic, problems);
    check_validator_messages(&key, topic, problems);
}

/// The pace of sends and how long a session lasts.
fn check_rates(key: &str, topic: &TopicSettings, problems: &mut Vec<Problem>) {
    if let Some(rate) = topic.max_sends_per_second {
        if !(rate > 0.0 && rate <= 10_000.0) {
            push(
                problems,
                format!("{key}.max_sends_per_second"),
                format!("must be above 0 and at most 10000, got {rate}"),
            );
        }
    }
    if !(1..=MAX_SESSION_TTL_S).contains(&topic.session_ttl_s) {
        push(
            problems,
            format!("{key}.session_ttl_s"),
            format!(
                "must be between 1 and {MAX_SESSION_TTL_S} (a year), got {}",
                topic.session_ttl_s
            ),
        );
    }
}

/// A topic's own keywords: each 1 to 64 characters once normalized, at most 100 per list, and
/// none meaning something else already (Twilio's `YES` cannot opt out).
fn check_keywords(key: &str, topic: &TopicSettings, problems: &mut Vec<Problem>) {
    use crate::twilio::keywords::{normalize, Keyword, Keywords, MAX_KEYWORDS, MAX_KEYWORD_CHARS};
    let own = &topic.keywords;
    let twilio = Keywords::default();
    let mut seen: Vec<(String, Keyword)> = Vec::new();
    let lists = [
        ("opt_out", Keyword::OptOut, &own.opt_out),
        ("opt_in", Keyword::OptIn, &own.opt_in),
        ("help", Keyword::Help, &own.help),
    ];
    for (list, meaning, words) in lists {
        let list_key = format!("{key}.keywords.{list}");
        if words.len() > MAX_KEYWORDS {
            let got = words.len();
            let problem = format!("may list at most {MAX_KEYWORDS} keywords, got {got}");
            push(problems, list_key.clone(), problem);
        }
        for word in words {
            let normal = normalize(word);
            let shown: String = word.chars().take(40).collect();
            let chars = normal.chars().count();
            if chars == 0 || chars > MAX_KEYWORD_CHARS {
                let problem = format!(
                    "lists `{shown}`: a keyword must be 1 to {MAX_KEYWORD_CHARS} characters besides trailing punctuation"
                );
                push(problems, list_key.clone(), problem);
                continue;
            }
            let other = twilio
                .meaning(&normal)
                .or_else(|| seen.iter().find(|(w, _)| *w == normal).map(|(_, k)| *k));
            if let Some(other) = other.filter(|k| *k != meaning) {
                let kind = match other {
                    Keyword::OptOut => "an opt-out",
                    Keyword::OptIn => "an opt-in",
                    Keyword::Help => "a help",
                };
                let problem = format!("lists `{shown}`, which is already {kind} keyword");
                push(problems, list_key.clone(), problem);
            }
            seen.push((normal, meaning));
        }
    }
}

/// Every validator answers something when it refuses a text.
fn check_validator_messages(key: &str, topic: &TopicSettings, problems: &mut Vec<Problem>) {
    for (validator, spec) in &topic.validators {
        if spec.message().is_none_or(|m| m.trim().is_empty()) {
            push(
                problems,
                format!("{key}.validators.{validator}.message"),
                "is required and must not be empty".into(),
            );
        }
    }
}

fn check_retry(key: &str, topic: &TopicSettings, problems: &mut Vec<Problem>) {
    let retry = &topic.retry;
    if retry.max_attempts == 0 {
        push(
            problems,
            format!("{key}.retry.max_attempts"),
            "must be at least 1".into(),
        );
    }
    if retry.backoff_initial_ms > retry.backoff_max_ms {
        push(
            problems,
            format!("{key}.retry.backoff_initial_ms"),
            format!(
                "must not exceed backoff_max_ms ({}), got {}",
                retry.backoff_max_ms, retry.backoff_initial_ms
            ),
        );
    }
}

/// Topic names appear in URLs and Redis keys: keep them plain.
pub(super) fn is_topic_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
