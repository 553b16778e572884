//! A text pyrowire sends first (not a reply): what the outbound API, `pyrowire send` and the
//! library queue, checked here once for all three, and the statuses it moves through.

use serde::Serialize;

use super::expiry::check_expiry;
use super::ids::PhoneNumber;
use super::lane::Lane;
use super::reply::Reply;
use super::session::{Session, MAX_SESSION_BYTES};
use crate::twilio::segments::MAX_BODY_CHARS;

/// How the id of an outbound text starts (`OB` and 32 hex digits); Twilio's own SIDs never do.
pub(crate) const OUTBOUND_ID_PREFIX: &str = "OB";

/// Whether `sid` is the id of an outbound text rather than an inbound MessageSid.
pub(crate) fn is_outbound_id(sid: &str) -> bool {
    sid.len() == 34
        && sid.starts_with(OUTBOUND_ID_PREFIX)
        && sid[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Most media URLs on one text (Twilio's limit).
pub const MAX_OUTBOUND_MEDIA: usize = 10;
/// Longest media URL accepted.
pub(crate) const MAX_MEDIA_URL_BYTES: usize = 2048;
/// Longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 256;
/// How far ahead a text may be scheduled: a year.
pub(crate) const MAX_SCHEDULE_AHEAD_MS: u64 = 366 * 24 * 3600 * 1000;

/// One text to send first, checked: an E.164 recipient, a body and/or media, an optional time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewText {
    /// The recipient, E.164.
    pub to: PhoneNumber,
    /// What to send.
    pub content: Reply,
    /// When to send it (ms since the epoch); `None` or a past time means now.
    pub send_at: Option<u64>,
    /// A repeated key (per topic, within `dedup_ttl_s`) queues nothing and answers the first id.
    pub idempotency_key: Option<String>,
    /// The session the text opens: when it is sent, it becomes the recipient's session for the
    /// topic (as a reply's handler would leave it), so their answer's handler sees it. Its JSON
    /// is at most [`MAX_SESSION_BYTES`].
    pub session: Option<Session>,
    /// When it stops being worth sending (ms since the epoch): not sent by then, it is
    /// `expired`; sent before, Twilio gets the time left as `ValidityPeriod`.
    pub expires_at: Option<u64>,
    /// The queue it waits in: `bulk` texts go out only while no reply waits.
    pub lane: Lane,
    /// The recipient's IANA time zone, when the caller knows it: it wins over the number's for
    /// the topic's `send_window`.
    pub timezone: Option<String>,
    /// When the topic's `send_window` next opens for the recipient, when the text is due
    /// outside it (ms since the epoch): it waits until then (set by the outbox, not the
    /// caller; not part of what an idempotency key matches).
    pub held_until: Option<u64>,
    /// The broadcast it belongs to (`BC` and 32 hex digits), set by the caller that made one.
    pub broadcast: Option<String>,
    /// Its own quiet hours (its broadcast's `send_window`), instead of the topic's.
    pub window: Option<super::window::WindowSpec>,
}

/// One problem with one field of a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// `to`, `body`, `media_url`, `send_at` or `idempotency_key` (or the field not known).
    pub field: String,
    /// What is wrong, without the value.
    pub message: String,
}

impl FieldError {
    pub(super) fn new(field: &str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// A text's fields as given, before they are checked.
#[derive(Debug, Clone, Default)]
pub struct TextFields {
    /// `to`.
    pub to: Option<String>,
    /// `body`.
    pub body: Option<String>,
    /// `media_url`: one URL or several.
    pub media_urls: Vec<String>,
    /// `send_at`, RFC 3339.
    pub send_at: Option<String>,
    /// `idempotency_key`.
    pub idempotency_key: Option<String>,
    /// `session`: a JSON object.
    pub session: Option<serde_json::Value>,
    /// `expires_at`, RFC 3339.
    pub expires_at: Option<String>,
    /// `validity_s`: seconds after the text is due.
    pub validity_s: Option<u64>,
    /// `priority`: `interactive` (the default) or `bulk`.
    pub priority: Option<String>,
    /// `timezone`: the recipient's IANA time zone, for `send_window`.
    pub timezone: Option<String>,
}

impl TextFields {
    /// Checks every field, naming every problem (in the order of the fields); `now` (ms) bounds
    /// `send_at`.
    pub fn check(self, now: u64) -> Result<NewText, Vec<FieldError>> {
        let mut errors = Vec::new();
        let to = check_to(self.to.as_deref(), &mut errors);
        let body = self.body.filter(|b| !b.is_empty());
        check_body(body.as_deref(), &mut errors);
        check_media(&self.media_urls, &mut errors);
        if body.is_none() && self.media_urls.is_empty() {
            errors.push(FieldError::new(
                "body",
                "is required when there is no media_url",
            ));
        }
        let send_at = self.send_at.as_deref().and_then(|at| {
            parse_time(at, now)
                .map_err(|message| errors.push(FieldError::new("send_at", message)))
                .ok()
        });
        check_idempotency_key(self.idempotency_key.as_deref(), &mut errors);
        let session = self.session.and_then(|s| check_session(s, &mut errors));
        let due = send_at.unwrap_or(now).max(now);
        let expires_at = check_expiry(
            self.expires_at.as_deref(),
            self.validity_s,
            due,
            now,
            &mut errors,
        );
        let lane = match self.priority.as_deref().map(Lane::parse) {
            None => Lane::Interactive,
            Some(Some(lane)) => lane,
            Some(None) => {
                errors.push(FieldError::new(
                    "priority",
                    "must be `interactive` or `bulk`",
                ));
                Lane::Interactive
            }
        };
        if let Some(zone) = self.timezone.as_deref() {
            if let Err(message) = super::window::zone_named(zone) {
                errors.push(FieldError::new("timezone", message));
            }
        }
        match to {
            Some(to) if errors.is_empty() => Ok(NewText {
                to,
                content: Reply {
                    text: body,
                    media_urls: self.media_urls,
                },
                send_at,
                idempotency_key: self.idempotency_key,
                session,
                expires_at,
                lane,
                timezone: self.timezone,
                held_until: None,
                broadcast: None,
                window: None,
            }),
            _ => Err(errors),
        }
    }
}

/// A required E.164 recipient.
fn check_to(to: Option<&str>, errors: &mut Vec<FieldError>) -> Option<PhoneNumber> {
    match to {
        None => errors.push(FieldError::new("to", "is required")),
        Some(to) if !is_e164(to) => errors.push(FieldError::new(
            "to",
            "must be an E.164 number: + and 2 to 15 digits, the first not 0",
        )),
        Some(to) => return PhoneNumber::parse("to", to).ok(),
    }
    None
}

/// At most Twilio's 1600 characters, and no control characters but tab, CR and LF.
fn check_body(body: Option<&str>, errors: &mut Vec<FieldError>) {
    let Some(body) = body else {
        return;
    };
    let chars = body.chars().count();
    if chars > MAX_BODY_CHARS {
        errors.push(FieldError::new(
            "body",
            format!("must be at most {MAX_BODY_CHARS} characters, got {chars}"),
        ));
    }
    if body.chars().any(is_forbidden_control) {
        errors.push(FieldError::new(
            "body",
            "must not hold control characters other than tab, CR and LF",
        ));
    }
}

/// A JSON object of at most [`MAX_SESSION_BYTES`] as JSON.
fn check_session(session: serde_json::Value, errors: &mut Vec<FieldError>) -> Option<Session> {
    let serde_json::Value::Object(map) = session else {
        errors.push(FieldError::new("session", "must be a JSON object"));
        return None;
    };
    let session = Session::from_map(map);
    let bytes = session.to_json().len();
    if bytes > MAX_SESSION_BYTES {
        errors.push(FieldError::new(
            "session",
            format!("must be at most {MAX_SESSION_BYTES} bytes of JSON, got {bytes}"),
        ));
        return None;
    }
    Some(session)
}

/// 1 to 256 bytes without control characters.
fn check_idempotency_key(key: Option<&str>, errors: &mut Vec<FieldError>) {
    let Some(key) = key else {
        return;
    };
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_BYTES || key.chars().any(char::is_control)
    {
        errors.push(FieldError::new(
            "idempotency_key",
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY_BYTES} bytes without control characters"),
        ));
    }
}

fn check_media(urls: &[String], errors: &mut Vec<FieldError>) {
    if urls.len() > MAX_OUTBOUND_MEDIA {
        errors.push(FieldError::new(
            "media_url",
            format!(
                "may list at most {MAX_OUTBOUND_MEDIA} URLs, got {}",
                urls.len()
            ),
        ));
    }
    let bad = urls.iter().any(|url| {
        url.len() > MAX_MEDIA_URL_BYTES
            || url.chars().any(|c| c.is_control() || c.is_whitespace())
            || url_host(url).is_none_or(str::is_empty)
    });
    if bad {
        errors.push(FieldError::new(
            "media_url",
            format!("must hold http(s) URLs with a host, of at most {MAX_MEDIA_URL_BYTES} bytes"),
        ));
    }
}

/// A C0 control character (or DEL) other than tab, CR and LF: NUL and terminal escapes have no
/// place in a text and would reach Twilio, logs and terminals as they are.
fn is_forbidden_control(c: char) -> bool {
    (c.is_ascii_control() && !matches!(c, '\t' | '\r' | '\n')) || ('\u{80}'..='\u{9f}').contains(&c)
}

/// The host of an `http://` or `https://` URL (empty for `http://` or `http://:80/`), `None`
/// for any other scheme.
fn url_host(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    Some(host)
}

/// Whether `number` is E.164: `+`, then 2 to 15 digits, the first not 0.
pub fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

/// An RFC 3339 time as ms since the epoch, at most a year after `now`.
pub fn parse_time(text: &str, now: u64) -> Result<u64, String> {
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| "must be an RFC 3339 time such as 2026-12-01T09:00:00Z".to_string())?;
    let ms = (parsed.unix_timestamp_nanos() / 1_000_000).max(0) as u64;
    if ms > now + MAX_SCHEDULE_AHEAD_MS {
        return Err("must be at most a year ahead".into());
    }
    Ok(ms)
}

/// Where an outbound text stands, as the outbound API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundStatus {
    /// Waiting for its `send_at`.
    Scheduled,
    /// In the queue for the topic's workers.
    Queued,
    /// Handed to Twilio.
    Sent,
    /// Twilio reported it delivered.
    Delivered,
    /// Twilio reported it read (after delivered; WhatsApp and RCS report it).
    Read,
    /// Twilio reported it undelivered.
    Undelivered,
    /// Twilio reported it failed.
    Failed,
    /// The recipient opted out: nothing was sent.
    OptedOut,
    /// Every attempt failed: it is in the dead letters.
    DeadLettered,
    /// Cancelled before it was due.
    Cancelled,
    /// Not sent by its `expires_at` (or `validity_s`): never sent.
    Expired,
}

impl OutboundStatus {
    /// The status's name.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboundStatus::Scheduled => "scheduled",
            OutboundStatus::Queued => "queued",
            OutboundStatus::Sent => "sent",
            OutboundStatus::Delivered => "delivered",
            OutboundStatus::Read => "read",
            OutboundStatus::Undelivered => "undelivered",
            OutboundStatus::Failed => "failed",
            OutboundStatus::OptedOut => "opted_out",
            OutboundStatus::DeadLettered => "dead_lettered",
            OutboundStatus::Cancelled => "cancelled",
            OutboundStatus::Expired => "expired",
        }
    }

    /// Every status.
    pub(crate) const ALL: [OutboundStatus; 11] = [
        OutboundStatus::Scheduled,
        OutboundStatus::Queued,
        OutboundStatus::Sent,
        OutboundStatus::Delivered,
        OutboundStatus::Read,
        OutboundStatus::Undelivered,
        OutboundStatus::Failed,
        OutboundStatus::OptedOut,
        OutboundStatus::DeadLettered,
        OutboundStatus::Cancelled,
        OutboundStatus::Expired,
    ];

    /// The status named `name`, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == name)
    }
}

impl Serialize for OutboundStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_790_000_000_000;

    fn fields(to: &str, body: &str) -> TextFields {
        TextFields {
            to: Some(to.into()),
            body: Some(body.into()),
            ..TextFields::default()
        }
    }

    #[test]
    fn a_session_is_an_object_of_at_most_16_kib() {
        // Arrange
        let with = |session: serde_json::Value| TextFields {
            session: Some(session),
            ..fields("+15551234567", "hi")
        };
        let big = "x".repeat(MAX_SESSION_BYTES);

        // Act
        let opened = with(serde_json::json!({"appointment": 42})).check(NOW);
        let too_big = with(serde_json::json!({ "note": big })).check(NOW);

        // Assert
        let session = opened.unwrap().session.unwrap();
        assert_eq!(session.get::<u32>("appointment").unwrap(), Some(42));
        let errors = too_big.unwrap_err();
        assert_eq!(errors[0].field, "session");
        assert!(errors[0].message.contains("16384"), "{errors:?}");
    }

    #[test]
    fn a_good_text_passes_and_every_problem_is_named() {
        let text = fields("+15551234567", "hi").check(NOW).unwrap();
        assert_eq!(text.to.as_str(), "+15551234567");
        assert_eq!(text.content.text.as_deref(), Some("hi"));
        let errors = TextFields {
            to: Some("5551234567".into()),
            body: Some("x".repeat(1601)),
            media_urls: vec!["ftp://a".into()],
            send_at: Some("tomorrow".into()),
            idempotency_key: Some(String::new()),
            session: Some(serde_json::json!(["not", "an", "object"])),
            expires_at: Some("soon".into()),
            validity_s: None,
            priority: Some("urgent".into()),
            timezone: Some("Mars/Olympus".into()),
        }
        .check(NOW)
        .unwrap_err();
        let named: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            named,
            vec![
                "to",
                "body",
                "media_url",
                "send_at",
                "idempotency_key",
                "session",
                "expires_at",
                "priority",
                "timezone"
            ]
        );
        let missing = TextFields::default().check(NOW).unwrap_err();
        let named: Vec<&str> = missing.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(named, vec!["to", "body"]);
    }

    #[test]
    fn lengths_a_stranger_controls_are_bounded() {
        let at_most = TextFields {
            idempotency_key: Some("k".repeat(MAX_IDEMPOTENCY_KEY_BYTES)),
            media_urls: vec![format!(
                "https://x/{}",
                "a".repeat(MAX_MEDIA_URL_BYTES - 10)
            )],
            ..fields("+15551234567", "hi")
        };
        assert!(at_most.check(NOW).is_ok());
        let over = TextFields {
            idempotency_key: Some("k".repeat(MAX_IDEMPOTENCY_KEY_BYTES + 1)),
            media_urls: vec!["https://x/a".to_string(); MAX_OUTBOUND_MEDIA + 1],
            ..fields("+15551234567", "hi")
        };
        let named: Vec<String> = over
            .check(NOW)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(named, vec!["media_url", "idempotency_key"]);
        let long_url = TextFields {
            media_urls: vec![format!("https://x/{}", "a".repeat(MAX_MEDIA_URL_BYTES))],
            ..fields("+15551234567", "hi")
        };
        assert_eq!(long_url.check(NOW).unwrap_err()[0].field, "media_url");
    }

    #[test]
    fn control_characters_and_media_urls_without_a_host_are_refused() {
        let field = |body: &str, url: &str| {
            let text = TextFields {
                media_urls: vec![url.to_string()],
                ..fields("+15551234567", body)
            };
            text.check(NOW)
                .map_err(|errors| errors.into_iter().map(|e| e.field).collect::<Vec<_>>())
        };
        assert!(field("tab\tand\r\nlines", "https://example.com/a.png").is_ok());
        assert!(field("ok", "http://user@host:8080/x").is_ok());
        assert!(field("ok", "https://[::1]:443/x").is_ok());
        for body in [
            "nul\0",
            "escape \u{1b}[31m",
            "bell\u{7}",
            "del\u{7f}",
            "csi\u{9b}",
        ] {
            assert_eq!(
                field(body, "https://x/a"),
                Err(vec!["body".into()]),
                "{body:?}"
            );
        }
        for url in [
            "http://",
            "https:///path",
            "http://:80/x",
            "https://user@/x",
            "ftp://x/a",
        ] {
            assert_eq!(field("ok", url), Err(vec!["media_url".into()]), "{url}");
        }
    }

    #[test]
    fn e164_and_times() {
        assert!(is_e164("+442071838750"));
        assert!(!is_e164("+0123"));
        assert!(!is_e164("+1"));
        assert!(!is_e164("+1234567890123456"));
        assert!(!is_e164("+1 555"));
        assert_eq!(
            parse_time("2026-12-01T09:00:00Z", NOW).unwrap(),
            1_796_115_600_000
        );
        assert_eq!(
            parse_time("2026-12-01T10:00:00+01:00", NOW).unwrap(),
            1_796_115_600_000
        );
        assert!(parse_time("2030-01-01T00:00:00Z", NOW).is_err());
        assert!(parse_time("2026-12-01 09:00", NOW).is_err());
    }

    #[test]
    fn statuses_read_back() {
        for status in [OutboundStatus::OptedOut, OutboundStatus::DeadLettered] {
            assert_eq!(OutboundStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(OutboundStatus::parse("nope"), None);
    }
}
