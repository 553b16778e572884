//! One event: what the script that records a change stores in the topic's event stream
//! (`emit_fn.lua`), and the JSON body the dispatcher POSTs for it. The body is built from the
//! stored fields alone, so every attempt at one event sends the same bytes under the same id.

use serde::Serialize;
use serde_json::Value;

use crate::domain::outbound::OUTBOUND_ID_PREFIX;
use crate::domain::REPLY_TIMEOUT_ID_PREFIX;

/// Most events a topic's stream holds: while the endpoint fails, events wait here; past this
/// many, a new event is dropped (logged and counted in `pyrowire_events_dropped_total`) rather
/// than grow Redis without bound.
pub(crate) const MAX_BACKLOG: u64 = 100_000;

/// Longest `error` an event carries, in bytes.
pub(crate) const MAX_ERROR_BYTES: usize = 1024;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    /// Twilio's status callback said `delivered`.
    Delivered,
    /// ... `undelivered`.
    Undelivered,
    /// ... `failed`.
    Failed,
    /// A job failed for good.
    DeadLettered,
    /// A number opted out (a keyword, or Twilio's 21610).
    OptedOut,
    /// A number opted back in.
    OptedIn,
}

impl EventKind {
    /// Every kind, for metrics.
    pub(crate) const ALL: [EventKind; 6] = [
        EventKind::Delivered,
        EventKind::Undelivered,
        EventKind::Failed,
        EventKind::DeadLettered,
        EventKind::OptedOut,
        EventKind::OptedIn,
    ];

    /// The event's `type`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EventKind::Delivered => "message.delivered",
            EventKind::Undelivered => "message.undelivered",
            EventKind::Failed => "message.failed",
            EventKind::DeadLettered => "message.dead_lettered",
            EventKind::OptedOut => "number.opted_out",
            EventKind::OptedIn => "number.opted_in",
        }
    }

    /// The event a delivery status makes, if any (only final ones do).
    pub(crate) fn of_status(status: &str) -> Option<EventKind> {
        match status {
            "delivered" => Some(EventKind::Delivered),
            "undelivered" => Some(EventKind::Undelivered),
            "failed" => Some(EventKind::Failed),
            _ => None,
        }
    }
}

/// Stream entries as XRANGE answers them: each id with its field-value pairs.
pub(crate) type StreamEntries = Vec<(String, Vec<(String, String)>)>;

/// A new event id (`evt_` and 32 hex digits): its `webhook-id` on every attempt.
pub(crate) fn new_id() -> String {
    format!("evt_{:032x}", rand::random::<u128>())
}

/// An event as the stream holds it (every value a string, empty for none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StoredEvent {
    /// Its stream entry id.
    pub entry: String,
    /// Its `webhook-id`.
    pub id: String,
    /// Its `type`.
    pub kind: String,
    /// When it happened (ms since the epoch).
    pub at: u64,
    /// The number it is about.
    pub number: String,
    /// The job it is about: an inbound MessageSid, an outbound id or a reply-timeout id (or the
    /// MessageSid of the keyword that changed an opt-out).
    pub job: String,
    /// Twilio's SID of the sent message.
    pub twilio_sid: String,
    /// The delivery status.
    pub status: String,
    /// Twilio's error code.
    pub error_code: String,
    /// Why a job was dead-lettered.
    pub error: String,
}

impl StoredEvent {
    /// Reads one stream entry (`XRANGE`'s id and field-value pairs).
    pub(crate) fn from_entry(entry: String, fields: Vec<(String, String)>) -> Self {
        let mut event = StoredEvent {
            entry,
            ..StoredEvent::default()
        };
        for (field, value) in fields {
            match field.as_str() {
                "id" => event.id = value,
                "type" => event.kind = value,
                "at" => event.at = value.parse().unwrap_or(0),
                "number" => event.number = value,
                "job" => event.job = value,
                "twilio_sid" => event.twilio_sid = value,
                "status" => event.status = value,
                "error_code" => event.error_code = value,
                "error" => event.error = value,
                _ => {}
            }
        }
        event
    }

    /// The `webhook-id`: the stored one, else (an entry without one) one made of the entry id,
    /// as stable across attempts.
    pub(crate) fn webhook_id(&self) -> String {
        if self.id.is_empty() {
            format!("evt_{}", self.entry)
        } else {
            self.id.clone()
        }
    }

    /// The JSON body, the Standard Webhooks shape: `type`, `timestamp` (when it happened) and
    /// `data`.
    pub(crate) fn body(&self, topic: &str) -> Vec<u8> {
        let text = |value: &str| (!value.is_empty()).then(|| value.to_string());
        let job = text(&self.job);
        let is = |prefix: &str| job.as_deref().is_some_and(|j| j.starts_with(prefix));
        let outbound = is(OUTBOUND_ID_PREFIX);
        let inbound = job.is_some() && !outbound && !is(REPLY_TIMEOUT_ID_PREFIX);
        let body = Body {
            kind: &self.kind,
            timestamp: crate::domain::rfc3339(self.at),
            data: Data {
                topic,
                number: text(&self.number),
                job_id: job.clone(),
                message_sid: job.clone().filter(|_| inbound),
                outbound_id: job.filter(|_| outbound),
                twilio_sid: text(&self.twilio_sid),
                status: text(&self.status),
                error_code: match self.error_code.parse::<u64>() {
                    Ok(code) => Value::from(code),
                    Err(_) => Value::Null,
                },
                error: text(&self.error),
            },
        };
        serde_json::to_vec(&body).expect("an event serializes")
    }
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    timestamp: String,
    data: Data<'a>,
}

#[derive(Serialize)]
struct Data<'a> {
    topic: &'a str,
    number: Option<String>,
    job_id: Option<String>,
    message_sid: Option<String>,
    outbound_id: Option<String>,
    twilio_sid: Option<String>,
    status: Option<String>,
    error_code: Value,
    error: Option<String>,
}

/// The values of one event for `emit_fn.lua`, after the stream and the cap: id, type, at,
/// number, job, Twilio SID, status, error code, error. `id` empty means no event (the topic has
/// no `events_url`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Emit {
    /// The new event's id, empty for none.
    pub id: String,
    /// Its kind.
    pub kind: &'static str,
    /// The number, when the caller knows it (the scripts that read it from Redis leave it
    /// empty).
    pub number: String,
    /// The job.
    pub job: String,
    /// Twilio's SID.
    pub twilio_sid: String,
    /// The status.
    pub status: String,
    /// Twilio's error code.
    pub error_code: String,
    /// The dead letter's reason.
    pub error: String,
}

impl Emit {
    /// No event: the topic sends none.
    pub(crate) fn none() -> Self {
        Emit::default()
    }

    /// An event of `kind` when `enabled`, else none.
    pub(crate) fn of(enabled: bool, kind: EventKind) -> Self {
        if !enabled {
            return Emit::none();
        }
        Emit {
            id: new_id(),
            kind: kind.as_str(),
            ..Emit::default()
        }
    }

    /// Sets the error, cut to [`MAX_ERROR_BYTES`] (a handler's error may be long).
    pub(crate) fn set_error(&mut self, error: &str) {
        let mut end = error.len().min(MAX_ERROR_BYTES);
        while !error.is_char_boundary(end) {
            end -= 1;
        }
        self.error = error[..end].to_string();
    }

    /// The script values after the stream key: the cap, then the event's fields.
    pub(crate) fn args(&self, at: u64) -> [String; 10] {
        [
            MAX_BACKLOG.to_string(),
            self.id.clone(),
            self.kind.to_string(),
            at.to_string(),
            self.number.clone(),
            self.job.clone(),
            self.twilio_sid.clone(),
            self.status.clone(),
            self.error_code.clone(),
            self.error.clone(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(job: &str) -> StoredEvent {
        StoredEvent {
            entry: "1700000000000-0".into(),
            id: "evt_1".into(),
            kind: "message.undelivered".into(),
            at: 1_700_000_000_123,
            number: "+15550001111".into(),
            job: job.into(),
            twilio_sid: "SMout".into(),
            status: "undelivered".into(),
            error_code: "30003".into(),
            error: String::new(),
        }
    }

    #[test]
    fn the_body_names_the_topic_number_job_twilio_sid_and_code() {
        let body: Value = serde_json::from_slice(&stored("SMin").body("t")).unwrap();
        assert_eq!(body["type"], "message.undelivered");
        assert_eq!(body["timestamp"], "2023-11-14T22:13:20.123Z");
        let data = &body["data"];
        assert_eq!(data["topic"], "t");
        assert_eq!(data["number"], "+15550001111");
        assert_eq!(data["message_sid"], "SMin");
        assert_eq!(data["outbound_id"], Value::Null);
        assert_eq!(data["twilio_sid"], "SMout");
        assert_eq!(data["error_code"], 30003);
        assert_eq!(data["error"], Value::Null);
    }

    #[test]
    fn an_outbound_text_is_named_by_its_id_and_a_reply_timeout_by_neither() {
        let body: Value = serde_json::from_slice(&stored("OBabc").body("t")).unwrap();
        assert_eq!(body["data"]["outbound_id"], "OBabc");
        assert_eq!(body["data"]["message_sid"], Value::Null);
        let body: Value = serde_json::from_slice(&stored("RTabc").body("t")).unwrap();
        assert_eq!(body["data"]["job_id"], "RTabc");
        assert_eq!(body["data"]["message_sid"], Value::Null);
        assert_eq!(body["data"]["outbound_id"], Value::Null);
    }

    #[test]
    fn the_same_entry_makes_the_same_body_and_id() {
        let event = stored("SMin");
        assert_eq!(event.body("t"), event.body("t"));
        assert_eq!(event.webhook_id(), "evt_1");
        let old = StoredEvent {
            id: String::new(),
            ..event
        };
        assert_eq!(old.webhook_id(), "evt_1700000000000-0");
    }
}
