//! `pyrowire check`: load and validate the settings for a profile and summarize them.

use std::fmt::Write;

use crate::handlers::HandlerRegistry;
use crate::settings::{Settings, SettingsError};
use crate::store::target::RedisTarget;
use crate::topics::build_topics;
use crate::validators::ValidatorRegistry;

/// One topic as `pyrowire check` summarizes it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TopicCheck {
    /// The topic.
    pub topic: String,
    /// The handler's kind (`echo`, `reply`, `webhook`, `rust`, ...).
    pub handler: String,
    /// Worker actors per process.
    pub workers: usize,
    /// The validators, in order.
    pub validators: Vec<String>,
    /// Whom it sends as: `from +1555...` or `messaging service MG...`.
    pub sender: String,
}

/// What `pyrowire check` found: the settings are valid, and what they say.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckReport {
    /// The settings file.
    pub settings: String,
    /// The profile checked.
    pub profile: String,
    /// Always true: invalid settings are an error (exit 2), not a report.
    pub valid: bool,
    /// The address served: `host:port`, or `host:$PORT` when the port comes from `$PORT`.
    pub listen: String,
    /// The Redis it uses (password removed), or why its settings are wrong.
    pub redis: String,
    /// Whether webhooks must carry a valid `X-Twilio-Signature`.
    pub signatures_checked: bool,
    /// Whether replies are recorded, not sent.
    pub dry_run: bool,
    /// Whether the dashboard is on (`dashboard_token` set).
    pub dashboard: bool,
    /// Whether the outbound API is on (`api_token` set).
    pub outbound_api: bool,
    /// Every topic, in settings order.
    pub topics: Vec<TopicCheck>,
}

/// Validates everything `serve` would (handlers and validators included) and returns a summary.
pub fn check(settings: &Settings) -> Result<String, SettingsError> {
    check_report(settings).map(|report| report.text())
}

/// Validates everything `serve` would (handlers and validators included).
pub fn check_report(settings: &Settings) -> Result<CheckReport, SettingsError> {
    build_topics(
        settings,
        &HandlerRegistry::default(),
        &ValidatorRegistry::default(),
    )?;
    let profile = &settings.profile;
    let port = match profile.port {
        0 => "$PORT".to_string(),
        p => p.to_string(),
    };
    let on = |token: &Option<crate::settings::Secret>| {
        token.as_ref().is_some_and(|t| !t.expose().is_empty())
    };
    let topics = settings.topics.iter().map(|(name, topic)| TopicCheck {
        topic: name.clone(),
        handler: topic.handler.kind().unwrap_or("?").to_string(),
        workers: topic.workers,
        validators: topic.validators.keys().cloned().collect(),
        sender: crate::twilio::client::Sender::from(&topic.twilio).to_string(),
    });
    Ok(CheckReport {
        settings: settings.path.display().to_string(),
        profile: settings.profile_name.clone(),
        valid: true,
        listen: format!("{}:{port}", profile.host),
        redis: RedisTarget::from_profile(profile).map_or_else(|e| e.to_string(), |t| t.describe()),
        signatures_checked: profile.signatures_checked(&settings.profile_name),
        dry_run: profile.dry_run,
        dashboard: on(&profile.dashboard_token),
        outbound_api: on(&profile.api_token),
        topics: topics.collect(),
    })
}

impl CheckReport {
    /// The summary as `pyrowire check` prints it.
    pub fn text(&self) -> String {
        let on = |on: bool| if on { "on" } else { "off" };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}: profile `{}` is valid",
            self.settings, self.profile
        );
        let _ = writeln!(
            out,
            "  listen {}, redis {}, signatures {}, dry run {}",
            self.listen,
            self.redis,
            if self.signatures_checked {
                "checked"
            } else {
                "not checked"
            },
            on(self.dry_run)
        );
        let _ = writeln!(
            out,
            "  dashboard {}, outbound API {}",
            on(self.dashboard),
            on(self.outbound_api)
        );
        for t in &self.topics {
            let _ = writeln!(
                out,
                "  topic `{}`: handler {}, {} worker(s), validators [{}], {}",
                t.topic,
                t.handler,
                t.workers,
                t.validators.join(", "),
                t.sender
            );
        }
        out
    }
}
