//! What the recorder writes for each inbound message: the outcome, the reply, what Twilio said,
//! and how long each step took. Stored as JSON under the `record:{sid}` key (`store::keys`).

use serde::{Deserialize, Serialize};

use crate::domain::SendKind;
use crate::domain::{InboundMessage, Job, Reply};
use crate::twilio::segments::{Encoding, SegmentInfo};

/// How handling a message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    /// The handler ran and every reply was sent (or there was nothing to send).
    Completed,
    /// Every attempt failed, or one failed permanently: the job is in the dead letters.
    DeadLettered,
}

impl Outcome {
    /// The name records and the dashboard use: `completed` or `dead_lettered`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::DeadLettered => "dead_lettered",
        }
    }
}

/// One message sent to Twilio for an inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentSms {
    /// Which of the job's sends this is (`accept`, `reply`, `reply-N`, `extra-N`).
    pub kind: SendKind,
    /// Twilio's SID for the outbound message.
    pub sid: String,
    /// Twilio's status when it answered (`queued`, ...), or `opted_out` when the recipient opted
    /// out and nothing was sent (then `sid` is empty), or `dry_run`.
    pub status: Option<String>,
    /// Segments Twilio reported.
    pub num_segments: Option<String>,
    /// True when the profile's `dry_run` kept it from Twilio.
    pub dry_run: bool,
    /// The body's encoding on the air.
    #[serde(default)]
    pub encoding: Option<Encoding>,
    /// The body's segment count, as pyrowire computes it.
    #[serde(default)]
    pub segments: Option<u32>,
}

impl SentSms {
    /// A message of `kind` as Twilio answered it (or as a dry run stands in for it), with its
    /// body's `info` as pyrowire computes it.
    pub fn new(
        kind: SendKind,
        sid: String,
        status: Option<String>,
        num_segments: Option<String>,
        dry_run: bool,
        info: SegmentInfo,
    ) -> Self {
        SentSms {
            kind,
            sid,
            status,
            num_segments,
            dry_run,
            encoding: Some(info.encoding),
            segments: Some(info.segments),
        }
    }
}

/// Milliseconds-since-epoch timestamps of each step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Timings {
    /// Webhook received.
    pub received_at: u64,
    /// A worker started the job.
    pub started_at: u64,
    /// The handler returned.
    pub handled_at: u64,
    /// The last send returned; the record was written right after.
    pub finished_at: u64,
}

impl Timings {
    /// From the webhook to the record, in milliseconds.
    pub(crate) fn total_ms(&self) -> u64 {
        self.finished_at.saturating_sub(self.received_at)
    }
}

/// The record of one inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    /// How it ended.
    pub outcome: Outcome,
    /// The inbound message.
    pub message: InboundMessage,
    /// What the handler answered.
    pub reply: Reply,
    /// Messages sent through Twilio.
    pub sent: Vec<SentSms>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// Each failed attempt's reason, oldest first.
    #[serde(default)]
    pub attempts: Vec<String>,
    /// The stream entry the job was queued as.
    pub job_id: String,
    /// The worker (consumer) that handled it.
    pub worker: String,
    /// When each step happened.
    pub timings: Timings,
}

/// A job that will not be retried any more, kept for people to inspect and re-queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeadLetter {
    /// The job as it was queued.
    pub job: Job,
    /// Every attempt's reason, oldest first.
    pub reasons: Vec<String>,
    /// When it was dead-lettered (ms since the epoch).
    pub dead_at: u64,
    /// Twilio's error code, when Twilio's refusal of a send ended it (absent in dead letters of
    /// earlier releases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i64>,
}
