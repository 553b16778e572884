//! Checks that serde cannot express: ranges, formats, and relations between keys. Each problem
//! names its key and the bad value; all problems are collected, not only the first.

use super::problem::Problem;
use super::{Profile, Settings, TopicSettings, TwilioSettings, MAX_BODY_CHARS};

/// Most worker actors one topic may run in one process.
pub const MAX_WORKERS: usize = 1024;

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
pub fn is_placeholder_token(token: &str) -> bool {
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
pub fn is_placeholder_sid(sid: &str) -> bool {
    sid.strip_prefix("AC")
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c == '0'))
}

/// Longest `session_ttl_s`: a year.
const MAX_SESSION_TTL_S: u64 = 366 * 24 * 3600;

/// Refuses placeholder credentials in a profile that checks signatures or sends for real. The
/// value itself is never printed.
fn check_no_placeholders(
    name: &str,
    topic: &TopicSettings,
    profile_name: &str,
    problems: &mut Vec<Problem>,
) {
    let twilio = &topic.twilio;
    let why = format!(
        "profile `{profile_name}` checks signatures or sends for real (dry_run = false), so it \
         needs the real value (set it through the environment, e.g. $TWILIO_AUTH_TOKEN)"
    );
    let tokens = [("auth_token", Some(&twilio.auth_token))]
        .into_iter()
        .chain([("secondary_auth_token", twilio.secondary_auth_token.as_ref())]);
    for (key, token) in tokens {
        if token.is_some_and(|t| is_placeholder_token(t.expose())) {
            push(
                problems,
                format!("topics.{name}.twilio.{key}"),
                format!("is a placeholder, not a Twilio auth token: {why}"),
            );
        }
    }
    if is_placeholder_sid(&twilio.account_sid) {
        push(
            problems,
            format!("topics.{name}.twilio.account_sid"),
            format!("is the placeholder `{}`: {why}", twilio.account_sid),
        );
    }
}

/// Shortest `api_token` accepted: it opens sending to anyone, so it must not be guessable.
pub const MIN_API_TOKEN_CHARS: usize = 24;

/// A set `api_token` must be long and no placeholder, in every profile: it lets a stranger
/// text anyone on the account's bill. The value itself is never printed.
fn check_api_token(profile: &Profile, key: &str, problems: &mut Vec<Problem>) {
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

fn push(problems: &mut Vec<Problem>, key: String, problem: String) {
    problems.push(Problem { key, problem });
}

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
        ("twilio_timeout_ms", profile.twilio_timeout_ms),
        ("request_timeout_ms", profile.request_timeout_ms),
        ("max_connections", profile.max_connections as u64),
    ] {
        if value == 0 {
            push(problems, format!("{key}.{name}"), "must be above 0".into());
        }
    }
}

/// Exactly one connection form, each well formed; a CA file that exists. Values are secrets
/// (URLs may hold passwords): no message prints one.
fn check_redis(profile: &Profile, key: &str, problems: &mut Vec<Problem>) {
    let single = profile
        .redis
        .as_ref()
        .filter(|u| !u.expose().trim().is_empty());
    let forms = [
        single.is_some(),
        profile.redis_cluster.is_some(),
        profile.redis_sentinel.is_some(),
    ];
    if forms.iter().filter(|set| **set).count() != 1 {
        push(
            problems,
            key.to_string(),
            "must set exactly one of `redis` (one node), `redis_cluster` (a Redis Cluster) and \
             `redis_sentinel` (a primary with replicas behind sentinels)"
                .into(),
        );
    }
    if let Some(seeds) = &profile.redis_cluster {
        if seeds.is_empty() {
            push(
                problems,
                format!("{key}.redis_cluster"),
                "must list at least one seed node".into(),
            );
        }
        for (i, seed) in seeds.iter().enumerate() {
            if !is_redis_url(seed.expose(), &["redis://", "rediss://"]) {
                push(
                    problems,
                    format!("{key}.redis_cluster[{i}]"),
                    "must be a redis:// or rediss:// URL".into(),
                );
            }
        }
    }
    if let Some(url) = single {
        if !is_redis_url(url.expose(), &["redis://", "rediss://", "unix://"]) {
            push(
                problems,
                format!("{key}.redis"),
                "must be a redis://, rediss:// or unix:// URL".into(),
            );
        }
    }
    if let Some(sentinel) = &profile.redis_sentinel {
        let key = format!("{key}.redis_sentinel");
        if sentinel.master.trim().is_empty() {
            push(
                problems,
                format!("{key}.master"),
                "must not be empty".into(),
            );
        }
        if sentinel.nodes.is_empty() {
            push(
                problems,
                format!("{key}.nodes"),
                "must list at least one sentinel".into(),
            );
        }
        for (i, node) in sentinel.nodes.iter().enumerate() {
            if !is_redis_url(node.expose(), &["redis://", "rediss://"]) {
                push(
                    problems,
                    format!("{key}.nodes[{i}]"),
                    "must be a redis:// or rediss:// URL".into(),
                );
            }
        }
    }
    let urls: Vec<&str> = single
        .into_iter()
        .chain(profile.redis_cluster.iter().flatten())
        .chain(profile.redis_sentinel.iter().flat_map(|s| s.nodes.iter()))
        .map(|u| u.expose())
        .collect();
    let tls = urls.iter().filter(|u| u.starts_with("rediss://")).count();
    if profile.redis_sentinel.is_some() && tls != 0 && tls != urls.len() {
        push(
            problems,
            format!("{key}.redis_sentinel.nodes"),
            "must all be redis:// or all rediss:// URLs".into(),
        );
    }
    if profile.redis_ca_file.is_some() && profile.redis_tls_insecure {
        push(
            problems,
            format!("{key}.redis_tls_insecure"),
            "cannot be true with `redis_ca_file` (the CA would not be checked)".into(),
        );
    }
    if profile.redis_ca_file.is_some() && tls == 0 {
        push(
            problems,
            format!("{key}.redis_ca_file"),
            "is set, but no rediss:// URL would use it".into(),
        );
    }
    if let Some(path) = &profile.redis_ca_file {
        if !path.is_file() {
            push(
                problems,
                format!("{key}.redis_ca_file"),
                format!("is not a readable file, got `{}`", path.display()),
            );
        }
    }
    if profile.min_replica_acks > 16 {
        push(
            problems,
            format!("{key}.min_replica_acks"),
            format!("must be at most 16, got {}", profile.min_replica_acks),
        );
    }
    // WAIT holds the connection it runs on: it must end well within a command's timeout (3 s).
    if !(1..=2000).contains(&profile.replica_ack_timeout_ms) {
        push(
            problems,
            format!("{key}.replica_ack_timeout_ms"),
            format!(
                "must be between 1 and 2000, got {}",
                profile.replica_ack_timeout_ms
            ),
        );
    }
}

fn is_redis_url(url: &str, schemes: &[&str]) -> bool {
    schemes.iter().any(|s| url.starts_with(s)) && redis::parse_redis_url(url).is_some()
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
    check_retry(&key, topic, problems);
    check_twilio(&key, topic, problems);
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

fn check_twilio(key: &str, topic: &TopicSettings, problems: &mut Vec<Problem>) {
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

/// Topic names appear in URLs and Redis keys: keep them plain.
pub fn is_topic_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn is_sender(number: &str) -> bool {
    let e164 = |n: &str| {
        n.strip_prefix('+').is_some_and(|digits| {
            (2..=15).contains(&digits.len())
                && digits.chars().all(|c| c.is_ascii_digit())
                && !digits.starts_with('0')
        })
    };
    let short_code = (3..=8).contains(&number.len()) && number.chars().all(|c| c.is_ascii_digit());
    let channel = number.split_once(':').is_some_and(|(channel, rest)| {
        channel.chars().all(|c| c.is_ascii_lowercase()) && e164(rest)
    });
    e164(number) || short_code || channel
}

fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|host| !host.is_empty() && !host.starts_with('/') && !host.contains(' '))
}
