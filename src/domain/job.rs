//! The payload queued in Redis for the workers, versioned so that the format can change without
//! draining the queue.

use serde::{Deserialize, Serialize};

use super::inbound::InboundMessage;
use super::reply::Reply;

/// Version tag of queue payloads; bump when [`Job`] changes incompatibly. 2: a job may be an
/// outbound text (`outbound`). 3: an outbound text may open a session (`session`), and a job may
/// be a reply-timeout event (`message.event`). 4: an outbound text may expire (`expires_at`).
/// 5: an outbound text may have its own quiet hours (`window`, its broadcast's `send_window`).
/// 6: a dead letter re-queued (`requeued_at`), whose sends are looked up at Twilio when their
/// markers may have expired. A job is written with the lowest version that holds what it uses (6
/// re-queued, 5 with its own window, 4 with an expiry, 3 with a session or as a reply-timeout
/// event, 2 otherwise), so that a build before it (which would send a re-queued job's texts
/// again, send a text late or outside its hours, or drop the session) leaves it for a newer one.
/// Workers read every version up to this one and leave a newer job for a newer build.
pub(crate) const JOB_VERSION: u32 = 6;

/// The version of a re-queued dead letter.
pub(crate) const JOB_VERSION_REQUEUED: u32 = 6;

/// The version of a job with its own quiet hours.
pub(crate) const JOB_VERSION_WITH_WINDOW: u32 = 5;

/// The version of a job that expires and has no window of its own.
pub(crate) const JOB_VERSION_WITH_EXPIRY: u32 = 4;

/// The version of a job that opens a session or is a reply-timeout event, and does not expire.
pub(crate) const JOB_VERSION_WITH_SESSION: u32 = 3;

/// How the id of a reply-timeout event starts (`RT` and 32 hex digits); Twilio's SIDs never do.
pub(crate) const REPLY_TIMEOUT_ID_PREFIX: &str = "RT";

/// The version of a job that uses nothing of [`JOB_VERSION`] 3.
pub(crate) const JOB_VERSION_WITHOUT_SESSION: u32 = 2;

/// The payload queued in Redis for the workers; versioned so the format can change.
///
/// A job is an inbound message for the topic's handler, or, when `outbound` is set, a text to
/// send first: then no handler runs, and `message` only addresses it (`number` is the
/// recipient, `sid` the text's id, `topic` its topic), so that it shares the replies' order per
/// number, retries, dead letters and records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Job {
    /// The lowest version that holds what the job uses (see [`JOB_VERSION`]).
    pub v: u32,
    /// The inbound message (or, for an outbound text, its address).
    pub message: InboundMessage,
    /// Text to send first through the REST API (`send_on_accept`).
    #[serde(default)]
    pub accept_sms: Option<String>,
    /// The text to send, for a job that is an outbound text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound: Option<Reply>,
    /// The session an outbound text opens for its recipient when it is sent (checked JSON, at
    /// most `MAX_SESSION_BYTES`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// When an outbound text stops being worth sending (ms since the epoch): a worker that
    /// takes it later records it `expired` and sends nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// The recipient's IANA time zone the caller gave, for the topic's `send_window` (a build
    /// that does not know the field ignores it: the text was held to the window when queued).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// The text's own quiet hours (its broadcast's `send_window`), checked instead of the
    /// topic's when a worker reaches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<super::window::WindowSpec>,
    /// When a dead letter was put back on the queue (ms), for a re-queued job: its sends'
    /// markers may have expired (they live `record_ttl_s` from each send, a dead letter
    /// `dead_letter_ttl_s`), so a send that finds none is looked up at Twilio first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requeued_at: Option<u64>,
}

impl Job {
    /// The job of an inbound message for the topic's handler, with the accept text to send
    /// first (`send_on_accept`), if any.
    pub(crate) fn inbound(message: InboundMessage, accept_sms: Option<String>) -> Job {
        Job {
            v: JOB_VERSION_WITHOUT_SESSION,
            message,
            accept_sms,
            outbound: None,
            session: None,
            expires_at: None,
            timezone: None,
            window: None,
            requeued_at: None,
        }
    }

    /// The event a handler asked for with `expect_reply_within`, to run at `due_ms` if `message`'s
    /// sender sends nothing before: addressed like the message, with no text.
    pub(crate) fn reply_timeout(message: &InboundMessage, due_ms: u64) -> Job {
        let id = format!("{REPLY_TIMEOUT_ID_PREFIX}{:032x}", rand::random::<u128>());
        let mut event = InboundMessage::addressing(
            &message.topic,
            super::ids::MessageSid::parse("id", &id).expect("a valid id"),
            message.number.clone(),
            due_ms,
        );
        event.to = message.to.clone();
        event.event = super::inbound::MessageEvent::ReplyTimeout;
        Job {
            v: JOB_VERSION_WITH_SESSION,
            message: event,
            accept_sms: None,
            outbound: None,
            session: None,
            expires_at: None,
            timezone: None,
            window: None,
            requeued_at: None,
        }
    }

    /// This job put back on the queue at `now` (a dead letter re-queued).
    pub(crate) fn requeued(&self, now: u64) -> Job {
        Job {
            v: self.v.max(JOB_VERSION_REQUEUED),
            requeued_at: Some(now),
            ..self.clone()
        }
    }

    /// When this job's sends may have lost their markers (a dead letter re-queued at least
    /// `marker_ttl_s` after the job was received: each marker lives that long from its send, and
    /// no send is older than the job): the time to look up at Twilio from, or `None` when every
    /// marker it made still lives.
    pub(crate) fn markers_unsure_since(&self, now: u64, marker_ttl_s: u64) -> Option<u64> {
        self.requeued_at?;
        let received = self.message.received_at;
        (now >= received.saturating_add(marker_ttl_s.saturating_mul(1000))).then_some(received)
    }

    /// The job of an outbound text `id` on `topic`, accepted at `queued_at`.
    pub(crate) fn outbound(
        topic: &str,
        id: super::ids::MessageSid,
        text: &super::outbound::NewText,
        queued_at: u64,
    ) -> Job {
        let session = text.session.as_ref().map(|s| s.to_json());
        let v = match (&text.window, text.expires_at, &session) {
            (Some(_), _, _) => JOB_VERSION_WITH_WINDOW,
            (None, Some(_), _) => JOB_VERSION_WITH_EXPIRY,
            (None, None, Some(_)) => JOB_VERSION_WITH_SESSION,
            (None, None, None) => JOB_VERSION_WITHOUT_SESSION,
        };
        Job {
            v,
            message: InboundMessage::addressing(topic, id, text.to.clone(), queued_at),
            accept_sms: None,
            outbound: Some(text.content.clone()),
            session,
            expires_at: text.expires_at,
            timezone: text.timezone.clone(),
            window: text.window.clone(),
            requeued_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::outbound::TextFields;

    #[test]
    fn a_requeued_job_distrusts_missing_markers_only_once_they_may_have_expired() {
        let id =
            crate::domain::MessageSid::parse("id", "SM0123456789abcdef0123456789abcdef").unwrap();
        let number = crate::domain::PhoneNumber::parse("From", "+15551230000").unwrap();
        let job = Job::inbound(InboundMessage::addressing("t", id, number, 1_000_000), None);
        assert_eq!(
            job.markers_unsure_since(9_000_000, 1),
            None,
            "never re-queued"
        );
        let again = job.requeued(5_000_000);
        assert_eq!(again.v, JOB_VERSION_REQUEUED);
        assert_eq!(again.requeued_at, Some(5_000_000));
        // Markers live 3600 s from their sends, none before the job was received.
        assert_eq!(
            again.markers_unsure_since(1_000_000 + 3_599_999, 3600),
            None
        );
        assert_eq!(
            again.markers_unsure_since(1_000_000 + 3_600_000, 3600),
            Some(1_000_000)
        );
        let back: Job = serde_json::from_str(&serde_json::to_string(&again).unwrap()).unwrap();
        assert_eq!(back, again);
    }

    #[test]
    fn an_outbound_job_takes_the_lowest_version_that_holds_it() {
        let now = 1_790_000_000_000;
        let text = |session: bool, validity_s: Option<u64>| {
            TextFields {
                to: Some("+15551234567".into()),
                body: Some("hi".into()),
                session: session.then(|| serde_json::json!({"a": 1})),
                validity_s,
                ..TextFields::default()
            }
            .check(now)
            .unwrap()
        };
        let id = || crate::domain::MessageSid::parse("id", "OB1").unwrap();
        let version = |t| Job::outbound("t", id(), &t, now).v;
        assert_eq!(version(text(false, None)), JOB_VERSION_WITHOUT_SESSION);
        assert_eq!(version(text(true, None)), JOB_VERSION_WITH_SESSION);
        let expiring = Job::outbound("t", id(), &text(true, Some(60)), now);
        assert_eq!(expiring.v, JOB_VERSION_WITH_EXPIRY);
        assert_eq!(expiring.expires_at, Some(now + 60_000));
        let json =
            serde_json::to_string(&Job::outbound("t", id(), &text(false, None), now)).unwrap();
        assert!(
            !json.contains("expires_at") && !json.contains("window"),
            "{json}"
        );
        let mut windowed = text(false, None);
        windowed.window = Some(crate::domain::window::WindowSpec {
            start: "08:00".into(),
            end: "21:00".into(),
            days: None,
        });
        let job = Job::outbound("t", id(), &windowed, now);
        assert_eq!(job.v, JOB_VERSION_WITH_WINDOW);
        let back: Job = serde_json::from_str(&serde_json::to_string(&job).unwrap()).unwrap();
        assert_eq!(back.window, windowed.window);
    }
}
