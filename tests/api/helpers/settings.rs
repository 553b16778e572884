//! Test settings for the in-process app: the test profile, topic tables pointing at the
//! stand-in, and loading them with the variables `spawn_app` provides.

use pyrowire::settings::{load_str, Settings, SettingsError};

use crate::common::{redis_url, ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER};

/// A profile for tests: random port, the test Redis, a key prefix per app.
const TEST_PROFILE: &str = r#"
[profiles.test]
host = "127.0.0.1"
port = 0
log_level = "debug"
redis = "${REDIS_URL}"
redis_prefix = "${PREFIX}"
validate_signatures = false
dry_run = false
twilio_timeout_ms = 3000
"#;

/// A topic's Twilio table pointing at the stand-in.
pub fn twilio_table(topic: &str) -> String {
    format!(
        r#"
[topics.{topic}.twilio]
account_sid = "${{TWILIO_ACCOUNT_SID}}"
auth_token = "${{TWILIO_AUTH_TOKEN}}"
from_number = "{FROM_NUMBER}"
api_base = "${{TWILIO_API_BASE}}"
"#
    )
}

/// A topic as the shipped settings.toml has it (the three default validators, 160 characters,
/// two workers) with the given handler line.
pub fn default_topic(name: &str, handler: &str) -> String {
    format!(
        r#"
[topics.{name}]
handler = {handler}
accept_response = "Great, we'll get right back to you."
error_response = "It seems like an error has occurred...please try again later."
max_message_length = 160
workers = 2

[topics.{name}.validators]
profanity = "You kiss your mother with that mouth? No profanity, please."
length = "Your message was empty or too long."
parseable = "Please only use letters, digits and punctuation."
{}"#,
        twilio_table(name)
    )
}

/// Loads test settings from topic TOML with the variables `spawn_app` provides.
pub fn settings(topics: &str, prefix: &str, api_base: &str) -> Result<Settings, SettingsError> {
    settings_with(topics, "", prefix, api_base)
}

/// Like [`settings`], with more profile keys (TOML lines) after the test profile's.
pub fn settings_with(
    topics: &str,
    profile_extra: &str,
    prefix: &str,
    api_base: &str,
) -> Result<Settings, SettingsError> {
    // A key in `profile_extra` replaces the test profile's own line for it.
    let overridden = |line: &str| {
        let key = line.split('=').next().unwrap_or_default().trim();
        !key.is_empty()
            && profile_extra
                .lines()
                .any(|l| l.split('=').next().unwrap_or_default().trim() == key)
    };
    let profile: String = TEST_PROFILE
        .lines()
        .filter(|line| line.starts_with('[') || !overridden(line))
        .map(|line| format!("{line}\n"))
        .collect();
    let text = format!("{profile}{profile_extra}\n{topics}");
    let redis = redis_url();
    let env = |name: &str| match name {
        "REDIS_URL" => Some(redis.clone()),
        "PREFIX" => Some(prefix.to_string()),
        "TWILIO_ACCOUNT_SID" => Some(ACCOUNT_SID.to_string()),
        "TWILIO_AUTH_TOKEN" => Some(AUTH_TOKEN.to_string()),
        "TWILIO_API_BASE" => Some(api_base.to_string()),
        _ => None,
    };
    load_str(&text, "test-settings.toml".as_ref(), "test", &env)
}

/// A random key prefix, so tests sharing a Redis never see each other's keys.
pub fn random_prefix() -> String {
    format!("test{:016x}", rand::random::<u64>())
}
