//! Settings: the typed form of `settings.toml` (profiles hold environment settings, topics hold
//! applications). `load` reads and interpolates the file, `validate` checks what serde cannot.
//! Everything downstream gets a [`Settings`] whose values are already known to be good.

mod flex;
mod interpolate;
pub mod load;
mod problem;
mod redis;
mod secret;
mod validate;

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;

pub use load::{choose_profile, load, load_str, LoadOptions, SettingsError};
pub use problem::Problem;
pub use redis::SentinelSettings;
pub use secret::Secret;

/// The hard upper bound for `max_message_length`: Twilio's own limit for one message body.
pub use crate::twilio::segments::MAX_BODY_CHARS;

/// A loaded, validated settings file for one profile.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file the settings came from (for messages).
    pub path: PathBuf,
    /// The profile's name, lower case.
    pub profile_name: String,
    /// The chosen profile.
    pub profile: Profile,
    /// Every topic, in file order.
    pub topics: IndexMap<String, TopicSettings>,
}

/// Environment settings: where to listen, which Redis, how long to wait.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Address to bind.
    #[serde(default = "defaults::host")]
    pub host: String,
    /// Port to bind; 0 means `$PORT`, or any free port when `$PORT` is unset.
    #[serde(default = "defaults::port", deserialize_with = "flex::u16")]
    pub port: u16,
    /// Log filter used when `RUST_LOG` is unset.
    #[serde(default = "defaults::log_level")]
    pub log_level: String,
    /// One Redis node: a `redis://`, `rediss://` (TLS) or `unix://` URL with password and db.
    /// Exactly one of `redis`, `redis_cluster` and `redis_sentinel` is set.
    #[serde(default)]
    pub redis: Option<Secret>,
    /// Seed nodes of a Redis Cluster (`redis://` or `rediss://` URLs, password in the URL).
    #[serde(default)]
    pub redis_cluster: Option<Vec<Secret>>,
    /// A primary with replicas behind Redis Sentinel.
    #[serde(default)]
    pub redis_sentinel: Option<SentinelSettings>,
    /// A CA certificate (PEM) to trust for `rediss://`, instead of the system's roots.
    #[serde(default)]
    pub redis_ca_file: Option<PathBuf>,
    /// Accept any certificate for `rediss://` (Heroku Redis serves a self-signed one); warns.
    #[serde(default, deserialize_with = "flex::bool")]
    pub redis_tls_insecure: bool,
    /// Above 0, a webhook is answered 200 (and a reply sent) only once `WAIT` confirms that
    /// this many replicas hold the write.
    #[serde(default, deserialize_with = "flex::u32")]
    pub min_replica_acks: u32,
    /// How long `WAIT` may take for `min_replica_acks`.
    #[serde(
        default = "defaults::replica_ack_timeout_ms",
        deserialize_with = "flex::u64"
    )]
    pub replica_ack_timeout_ms: u64,
    /// Prefix of every Redis key this server writes.
    #[serde(default = "defaults::redis_prefix")]
    pub redis_prefix: String,
    /// Check `X-Twilio-Signature`; defaults to true outside the dev profile.
    #[serde(default, deserialize_with = "flex::opt_bool")]
    pub validate_signatures: Option<bool>,
    /// The base URL Twilio calls (signatures, status callbacks).
    #[serde(default)]
    pub public_url: String,
    /// A job unacknowledged this long is claimed by another worker.
    #[serde(default = "defaults::claim_idle_ms", deserialize_with = "flex::u64")]
    pub claim_idle_ms: u64,
    /// How long SIGTERM waits for in-flight jobs.
    #[serde(
        default = "defaults::shutdown_grace_ms",
        deserialize_with = "flex::u64"
    )]
    pub shutdown_grace_ms: u64,
    /// Log and record replies instead of calling Twilio (for trying pyrowire without an account).
    #[serde(default, deserialize_with = "flex::bool")]
    pub dry_run: bool,
    /// A MessageSid seen within this window is answered but not queued again.
    #[serde(default = "defaults::dedup_ttl_s", deserialize_with = "flex::u64")]
    pub dedup_ttl_s: u64,
    /// How long a message's record (completed or dead-lettered) is kept.
    #[serde(default = "defaults::record_ttl_s", deserialize_with = "flex::u64")]
    pub record_ttl_s: u64,
    /// How many recent completed message ids each topic lists.
    #[serde(default = "defaults::recent_records", deserialize_with = "flex::usize")]
    pub recent_records: usize,
    /// How long a dead letter is kept.
    #[serde(
        default = "defaults::dead_letter_ttl_s",
        deserialize_with = "flex::u64"
    )]
    pub dead_letter_ttl_s: u64,
    /// How many dead letters each topic keeps (the oldest go first).
    #[serde(
        default = "defaults::max_dead_letters",
        deserialize_with = "flex::usize"
    )]
    pub max_dead_letters: usize,
    /// Ingress answers 503 when a topic's queue holds this many jobs or more.
    #[serde(default = "defaults::max_queue_depth", deserialize_with = "flex::u64")]
    pub max_queue_depth: u64,
    /// Outbound texts sent as `bulk` are refused (503) when a topic's bulk queue holds this many
    /// or more; they never count against `max_queue_depth`.
    #[serde(default = "defaults::max_bulk_depth", deserialize_with = "flex::u64")]
    pub max_bulk_depth: u64,
    /// How long a client may take to send a request's headers, and again its body.
    #[serde(
        default = "defaults::request_timeout_ms",
        deserialize_with = "flex::u64"
    )]
    pub request_timeout_ms: u64,
    /// Most client connections the HTTP server holds open at once; more wait in the listen
    /// backlog. Bounds the memory a flood of slow connections can take.
    #[serde(
        default = "defaults::max_connections",
        deserialize_with = "flex::usize"
    )]
    pub max_connections: usize,
    /// The dashboard's token (`Authorization: Bearer ...`); unset, the dashboard is off.
    #[serde(default)]
    pub dashboard_token: Option<Secret>,
    /// The outbound API's token (`Authorization: Bearer ...`); unset or empty, `/api` answers
    /// 404.
    #[serde(default)]
    pub api_token: Option<Secret>,
    /// Timeout of one Twilio API request.
    #[serde(
        default = "defaults::twilio_timeout_ms",
        deserialize_with = "flex::u64"
    )]
    pub twilio_timeout_ms: u64,
    /// Most connections to Twilio each topic's HTTP client holds open at once, so the most
    /// requests in flight: a send beyond it waits for a connection. With Twilio answering in
    /// ~250 ms, it caps a process's texts at about four times this a second.
    #[serde(
        default = "defaults::twilio_max_connections",
        deserialize_with = "flex::usize"
    )]
    pub twilio_max_connections: usize,
}

impl Profile {
    /// Whether webhooks must carry a valid `X-Twilio-Signature`.
    pub fn signatures_checked(&self, profile_name: &str) -> bool {
        self.validate_signatures.unwrap_or(profile_name != "dev")
    }
    /// See `claim_idle_ms`.
    pub fn claim_idle(&self) -> Duration {
        Duration::from_millis(self.claim_idle_ms)
    }
    /// See `shutdown_grace_ms`.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
    /// See `request_timeout_ms`.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
    /// See `twilio_timeout_ms`.
    pub fn twilio_timeout(&self) -> Duration {
        Duration::from_millis(self.twilio_timeout_ms)
    }
}

/// One SMS application.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicSettings {
    /// The handler: a name, or a table with `kind` and its options.
    pub handler: HandlerSpec,
    /// Send `accept_response` as an SMS through the REST API instead of in the TwiML answer.
    #[serde(default, deserialize_with = "flex::bool")]
    pub send_on_accept: bool,
    /// Text answered (or sent, see `send_on_accept`) when a message is accepted.
    #[serde(default)]
    pub accept_response: Option<String>,
    /// Text answered with the 503 when the message could not be queued.
    #[serde(default)]
    pub error_response: Option<String>,
    /// Longest accepted message, in characters.
    #[serde(
        default = "defaults::max_message_length",
        deserialize_with = "flex::usize"
    )]
    pub max_message_length: usize,
    /// Worker actors for this topic in this process.
    #[serde(default = "defaults::workers", deserialize_with = "flex::usize")]
    pub workers: usize,
    /// Answer to HELP / INFO.
    #[serde(default)]
    pub help_response: Option<String>,
    /// Keywords the topic adds to Twilio's own.
    #[serde(default)]
    pub keywords: KeywordSettings,
    /// Most message segments sent per second, across every process (unset: no pacing).
    #[serde(default, deserialize_with = "flex::opt_f64")]
    pub max_sends_per_second: Option<f64>,
    /// A sender's session ends after this many seconds without a message from them (default
    /// 14400: Twilio's four-hour cookie).
    #[serde(default = "defaults::session_ttl_s", deserialize_with = "flex::u64")]
    pub session_ttl_s: u64,
    /// Where the topic's events (deliveries, dead letters, opt-outs) are POSTed; unset: none are
    /// kept.
    #[serde(default)]
    pub events_url: Option<String>,
    /// The Standard Webhooks secret (`whsec_` + base64) events are signed with; required with
    /// `events_url`.
    #[serde(default)]
    pub events_secret: Option<Secret>,
    /// Quiet hours: outbound texts go out only inside this window of the recipient's local
    /// time (unset: any time). Replies are never held.
    #[serde(default)]
    pub send_window: Option<crate::domain::window::WindowSpec>,
    /// The zone of a recipient whose zone the number does not tell (IANA name; unset: UTC).
    #[serde(default)]
    pub default_timezone: Option<String>,
    /// Retry policy for handler errors and transient Twilio failures.
    #[serde(default)]
    pub retry: RetrySettings,
    /// Validators, run in this order; the first failure answers.
    #[serde(default)]
    pub validators: IndexMap<String, ValidatorSpec>,
    /// Twilio account and number.
    pub twilio: TwilioSettings,
    /// Free-form values handed to the handler.
    #[serde(default)]
    pub properties: toml::Table,
}

impl TopicSettings {
    /// The topic's `send_window` with its `default_timezone`, when it has one (checked when the
    /// settings were loaded).
    pub fn window(&self) -> Option<crate::domain::window::TopicWindow> {
        self.window_checked().ok().flatten()
    }

    /// The zone of recipients whose zone is unknown: `default_timezone`, UTC when unset (or
    /// not a zone: the settings check refuses that).
    pub fn default_zone(&self) -> jiff::tz::TimeZone {
        self.default_timezone
            .as_deref()
            .and_then(|name| crate::domain::window::zone_named(name).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC)
    }

    /// The window, or what is wrong with it (key and problem).
    pub(crate) fn window_checked(
        &self,
    ) -> Result<Option<crate::domain::window::TopicWindow>, (&'static str, String)> {
        use crate::domain::window::{zone_named, TopicWindow};
        if let Some(name) = self.default_timezone.as_deref() {
            zone_named(name).map_err(|e| ("default_timezone", e))?;
        }
        let default_zone = self.default_zone();
        let Some(window) = &self.send_window else {
            return Ok(None);
        };
        let window = window.parse().map_err(|e| ("send_window", e))?;
        Ok(Some(TopicWindow {
            window,
            default_zone,
        }))
    }
}

/// How a topic names its handler.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum HandlerSpec {
    /// `handler = "echo"`
    Name(String),
    /// `handler = { kind = "reply", text = "..." }`
    Table(toml::Table),
}

impl HandlerSpec {
    /// The handler's kind: its name, or the table's `kind`.
    pub fn kind(&self) -> Option<&str> {
        match self {
            HandlerSpec::Name(name) => Some(name),
            HandlerSpec::Table(table) => table.get("kind").and_then(toml::Value::as_str),
        }
    }
    /// The handler's options (everything but `kind`); empty for a bare name.
    pub fn options(&self) -> toml::Table {
        match self {
            HandlerSpec::Name(_) => toml::Table::new(),
            HandlerSpec::Table(table) => {
                let mut options = table.clone();
                options.remove("kind");
                options
            }
        }
    }
}

/// How a topic configures one validator.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ValidatorSpec {
    /// `length = "Your message was empty or too long."`
    Message(String),
    /// `[topics.t.validators.name]` with `message` and options.
    Table(toml::Table),
}

impl ValidatorSpec {
    /// The text answered when this validator rejects a message.
    pub fn message(&self) -> Option<&str> {
        match self {
            ValidatorSpec::Message(message) => Some(message),
            ValidatorSpec::Table(table) => table.get("message").and_then(toml::Value::as_str),
        }
    }
    /// The validator's options (everything but `message`).
    pub fn options(&self) -> toml::Table {
        match self {
            ValidatorSpec::Message(_) => toml::Table::new(),
            ValidatorSpec::Table(table) => {
                let mut options = table.clone();
                options.remove("message");
                options
            }
        }
    }
}

/// Opt-out, opt-in and help keywords a topic adds to Twilio's defaults (which keep working:
/// carriers require STOP). Compared ignoring case, surrounding whitespace and trailing
/// punctuation; a keyword may be several words ("opt out").
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeywordSettings {
    /// Words that opt the sender out, like STOP.
    #[serde(default)]
    pub opt_out: Vec<String>,
    /// Words that opt the sender back in, like START.
    #[serde(default)]
    pub opt_in: Vec<String>,
    /// Words answered with `help_response`, like HELP.
    #[serde(default)]
    pub help: Vec<String>,
}

/// Retry policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySettings {
    /// Handler runs / send attempts before dead-lettering.
    #[serde(default = "defaults::max_attempts", deserialize_with = "flex::u32")]
    pub max_attempts: u32,
    /// First backoff; doubled each attempt, with jitter, capped.
    #[serde(
        default = "defaults::backoff_initial_ms",
        deserialize_with = "flex::u64"
    )]
    pub backoff_initial_ms: u64,
    /// Backoff cap.
    #[serde(default = "defaults::backoff_max_ms", deserialize_with = "flex::u64")]
    pub backoff_max_ms: u64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            max_attempts: defaults::max_attempts(),
            backoff_initial_ms: defaults::backoff_initial_ms(),
            backoff_max_ms: defaults::backoff_max_ms(),
        }
    }
}

/// A topic's Twilio account and sender: a number, a messaging service, or both (the service is
/// then used and the number is not sent).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioSettings {
    /// `AC` followed by 32 hex digits.
    pub account_sid: String,
    /// The account's auth token (never logged).
    pub auth_token: Secret,
    /// A second accepted token for signatures, so a token can be rotated without downtime.
    #[serde(default)]
    pub secondary_auth_token: Option<Secret>,
    /// The number texts are sent from (`From`). Required unless `messaging_service_sid` is set;
    /// empty counts as unset.
    #[serde(default, deserialize_with = "flex::opt_text")]
    pub from_number: Option<String>,
    /// A Messaging Service (`MG` + 32 hex digits) texts are sent through
    /// (`MessagingServiceSid`, no `From`); Twilio picks the number from its sender pool. Empty
    /// counts as unset.
    #[serde(default, deserialize_with = "flex::opt_text")]
    pub messaging_service_sid: Option<String>,
    /// Base URL of the REST API; tests point it at a local stand-in.
    #[serde(default = "defaults::api_base")]
    pub api_base: String,
    /// Send `SmartEncoded=true`, so Twilio replaces look-alike Unicode (’ “ –) with GSM-7 and a
    /// reply stays at 160/153 characters a segment (default true).
    #[serde(default = "defaults::yes", deserialize_with = "flex::bool")]
    pub smart_encoded: bool,
}

mod defaults {
    pub(super) fn replica_ack_timeout_ms() -> u64 {
        200
    }
    pub(super) fn host() -> String {
        "127.0.0.1".into()
    }
    pub(super) fn port() -> u16 {
        62023
    }
    pub(super) fn log_level() -> String {
        "info".into()
    }
    pub(super) fn redis_prefix() -> String {
        "pyrowire".into()
    }
    pub(super) fn claim_idle_ms() -> u64 {
        30_000
    }
    pub(super) fn shutdown_grace_ms() -> u64 {
        10_000
    }
    pub(super) fn dedup_ttl_s() -> u64 {
        86_400
    }
    pub(super) fn record_ttl_s() -> u64 {
        7 * 86_400
    }
    pub(super) fn recent_records() -> usize {
        1000
    }
    pub(super) fn dead_letter_ttl_s() -> u64 {
        30 * 86_400
    }
    pub(super) fn max_dead_letters() -> usize {
        10_000
    }
    pub(super) fn max_queue_depth() -> u64 {
        100_000
    }
    pub(super) fn max_bulk_depth() -> u64 {
        1_000_000
    }
    pub(super) fn request_timeout_ms() -> u64 {
        10_000
    }
    pub(super) fn max_connections() -> usize {
        256
    }
    pub(super) fn twilio_timeout_ms() -> u64 {
        10_000
    }
    pub(super) fn twilio_max_connections() -> usize {
        256
    }
    pub(super) fn max_message_length() -> usize {
        160
    }
    pub(super) fn workers() -> usize {
        1
    }
    pub(super) fn session_ttl_s() -> u64 {
        4 * 3600
    }
    pub(super) fn max_attempts() -> u32 {
        5
    }
    pub(super) fn backoff_initial_ms() -> u64 {
        500
    }
    pub(super) fn backoff_max_ms() -> u64 {
        60_000
    }
    pub(super) fn yes() -> bool {
        true
    }
    pub(super) fn api_base() -> String {
        "https://api.twilio.com".into()
    }
}

#[cfg(test)]
mod tests;
