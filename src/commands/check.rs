//! `pyrowire check`: load and validate the settings for a profile and summarize them.

use std::fmt::Write;

use crate::handlers::HandlerRegistry;
use crate::settings::{Settings, SettingsError};
use crate::store::target::RedisTarget;
use crate::topics::build_topics;
use crate::validators::ValidatorRegistry;

/// Validates everything `serve` would (handlers and validators included) and returns a summary.
pub fn check(settings: &Settings) -> Result<String, SettingsError> {
    build_topics(
        settings,
        &HandlerRegistry::default(),
        &ValidatorRegistry::default(),
    )?;
    let profile = &settings.profile;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: profile `{}` is valid",
        settings.path.display(),
        settings.profile_name
    );
    let port = match profile.port {
        0 => "$PORT".to_string(),
        p => p.to_string(),
    };
    let _ = writeln!(
        out,
        "  listen {}:{port}, redis {}, signatures {}, dry run {}",
        profile.host,
        RedisTarget::from_profile(profile).map_or_else(|e| e.to_string(), |t| t.describe()),
        if profile.signatures_checked(&settings.profile_name) {
            "checked"
        } else {
            "not checked"
        },
        if profile.dry_run { "on" } else { "off" }
    );
    let on = |token: &Option<crate::settings::Secret>| {
        if token.as_ref().is_some_and(|t| !t.expose().is_empty()) {
            "on"
        } else {
            "off"
        }
    };
    let _ = writeln!(
        out,
        "  dashboard {}, outbound API {}",
        on(&profile.dashboard_token),
        on(&profile.api_token)
    );
    for (name, topic) in &settings.topics {
        let validators: Vec<&str> = topic.validators.keys().map(String::as_str).collect();
        let _ = writeln!(
            out,
            "  topic `{name}`: handler {}, {} worker(s), validators [{}], {}",
            topic.handler.kind().unwrap_or("?"),
            topic.workers,
            validators.join(", "),
            crate::twilio::client::Sender::from(&topic.twilio)
        );
    }
    Ok(out)
}
