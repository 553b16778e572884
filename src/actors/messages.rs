//! Every message one actor sends to another. Requests are imperatives; the pipeline is:
//! ingress —`Validate`→ Validator, ingress —`Enqueue`/`EnqueueOutbound`→ RedisQueue, WorkerPool —`RunJob`→
//! TopicWorker —`SendSms`→ TwilioSender, TopicWorker —`RecordOutcome`/`RecordAttempt`/
//! `LoadAttempts`/`LoadSession`→ Recorder, TopicWorker —`JobFinished`/`WorkerReady`→ WorkerPool, and on
//! shutdown `Drain` → WorkerPool; a worker process's `/health` asks each WorkerPool
//! `ReportPool`.

use std::sync::Arc;

use actix::Message;

use crate::domain::record::{DeadLetter, Record};
use crate::domain::{InboundMessage, Job};
use crate::domain::{MessageSid, PhoneNumber, SendKind, Session, SessionSave};
use crate::topics::Topic;
use crate::twilio::client::OutboundSms;
use crate::validators::Verdict;

/// Run a topic's validators on a message.
#[derive(Message)]
#[rtype(result = "Validated")]
pub(crate) struct Validate {
    /// The message to check; handed back in [`Validated`].
    pub message: InboundMessage,
    /// The topic it was posted to, whose validators run.
    pub topic: Arc<Topic>,
}

/// The validators' verdict, with the message handed back.
#[derive(Debug)]
pub(crate) struct Validated {
    /// The message that was checked.
    pub message: InboundMessage,
    /// Accept, or the first failure.
    pub verdict: Verdict,
}

/// Queue a job durably, once per MessageSid.
#[derive(Debug, Message)]
#[rtype(result = "Result<Enqueued, crate::actors::queue::error::QueueError>")]
pub(crate) struct Enqueue {
    /// The job; its message's topic and sid pick the keys.
    pub job: Job,
}

/// What enqueueing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Enqueued {
    /// Appended to the queue as this stream id.
    Queued {
        /// The stream entry id.
        id: String,
    },
    /// The MessageSid was queued before, as this stream id; nothing was added.
    Duplicate {
        /// The earlier stream entry id.
        id: String,
    },
}

/// Queue outbound texts of a topic: all of them, or none.
#[derive(Debug, Message)]
#[rtype(
    result = "Result<Vec<crate::outbound::outbox::Accepted>, crate::outbound::outbox::OutboxError>"
)]
pub(crate) struct EnqueueOutbound {
    /// The topic whose workers send them.
    pub topic: String,
    /// The texts, checked.
    pub texts: Vec<crate::domain::NewText>,
}

/// Check that Redis answers, and whether the node written to is a primary.
#[derive(Debug, Message)]
#[rtype(result = "Result<Pong, crate::actors::queue::error::QueueError>")]
pub(crate) struct Ping;

/// What [`Ping`] found.
#[derive(Debug, Clone)]
pub(crate) struct Pong {
    /// The connection form (`single`, `sentinel`, `cluster`).
    pub form: &'static str,
    /// `host:port` of the node written to.
    pub address: String,
    /// Whether that node says it is a primary (`ROLE`); false for a demoted node.
    pub primary: bool,
}

/// Handle one queued job (pool → worker).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub(crate) struct RunJob {
    /// The stream entry id, acknowledged once the outcome is recorded.
    pub entry_id: String,
    /// The job itself.
    pub job: Job,
    /// True when the job was handed out before (claimed from another consumer, or retried after
    /// a panic): its earlier attempts must be loaded from Redis.
    pub redelivered: bool,
    /// The queue it was read from.
    pub lane: crate::domain::Lane,
}

/// Stop taking jobs; answer once every in-flight job has finished (pool, on shutdown).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Drain;

/// Say whether the pool is reading its topic's queue (a worker process's `/health` → pool).
#[derive(Debug, Message)]
#[rtype(result = "PoolReport")]
pub(crate) struct ReportPool;

/// What [`ReportPool`] answers.
#[derive(Debug, Clone)]
pub(crate) struct PoolReport {
    /// The pool's topic.
    pub topic: String,
    /// What the pool is doing.
    pub state: PoolState,
}

/// Whether a pool reads its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PoolState {
    /// Joining the topic's consumer group, not yet reading.
    Starting,
    /// Its last read (or join) succeeded: it takes jobs as workers come free.
    Reading,
    /// Its last read (or join) failed; it tries again.
    Retrying,
    /// Shutting down: it takes no new jobs.
    Draining,
}

impl PoolState {
    /// The state's name, as `/health` shows it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PoolState::Starting => "starting",
            PoolState::Reading => "reading",
            PoolState::Retrying => "retrying",
            PoolState::Draining => "draining",
        }
    }
}

/// A worker finished its job and is idle (worker → pool).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct JobFinished {
    /// The worker's index in its pool.
    pub worker: usize,
}

/// A worker (re)started and is idle (worker → pool).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct WorkerReady {
    /// The worker's index in its pool.
    pub worker: usize,
}

/// Send one message through the topic's Twilio account.
#[derive(Debug, Message)]
#[rtype(result = "Result<crate::outbound::send_once::Sent, crate::outbound::send_once::SendError>")]
pub(crate) struct SendSms {
    /// The topic whose account sends it.
    pub topic: String,
    /// The inbound message's MessageSid: with `kind`, names the at-most-once marker.
    pub inbound_sid: MessageSid,
    /// Which of the job's sends this is (`accept`, `reply`, `reply-N`, `extra-N`).
    pub kind: SendKind,
    /// What to send.
    pub sms: OutboundSms,
    /// The job's lane: a bulk send takes the pace only when no other send waits for it.
    pub lane: crate::domain::Lane,
    /// For a re-queued job whose markers may have expired: a send that finds no marker is looked
    /// up at Twilio (messages created since this time, ms) before it is made.
    pub unsure_since: Option<u64>,
}

/// Write a job's outcome and acknowledge it, atomically.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), crate::actors::recorder::error::RecordError>")]
pub(crate) struct RecordOutcome {
    /// The stream entry id to acknowledge.
    pub entry_id: String,
    /// The lane (stream) it is in.
    pub lane: crate::domain::Lane,
    /// The record to write.
    pub record: Record,
    /// The dead letter to keep, when the job failed for good.
    pub dead: Option<DeadLetter>,
    /// What the completed job does to its sender's session; `None` leaves it untouched (a dead
    /// letter).
    pub session: Option<SessionWrite>,
    /// The Twilio SIDs of the job's last attempt's sends, stored with the record.
    pub stores: Vec<crate::outbound::delivery::SidStore>,
    /// Whether the job has a list of failed attempts to delete.
    pub had_attempts: bool,
    /// What the job does to the wait for its sender's next message.
    pub waiting: Waiting,
}

/// What a finished job does to the wait for its sender's reply (`expect_reply_within`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Waiting {
    /// Leaves it as it is (a text sent first: not the sender's own message).
    Leave,
    /// Ends it: the sender wrote, and the handler did not ask again.
    Clear,
    /// Waits until `due_ms`, then queues `job` (a `reply_timeout` event) unless the sender
    /// wrote meanwhile.
    Until {
        /// When the wait ends (ms since the epoch).
        due_ms: u64,
        /// The event's job, JSON.
        job: String,
    },
}

/// Put a queued outbound text back until its topic's `send_window` opens (worker → recorder).
#[derive(Debug, Message)]
#[rtype(result = "Result<(), crate::actors::recorder::error::RecordError>")]
pub(crate) struct HoldText {
    /// The text, its entry and when the window opens.
    pub held: crate::outbound::window::Held,
}

/// Store the Twilio SIDs of an attempt's sends on their own: the attempt failed after them.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), crate::actors::recorder::error::RecordError>")]
pub(crate) struct StoreSent {
    /// The sends.
    pub stores: Vec<crate::outbound::delivery::SidStore>,
}

/// A completed job's change to its sender's session, saved in the completion's transaction.
#[derive(Debug, Clone)]
pub(crate) struct SessionWrite {
    /// Keep (restart its clock), replace or end; a replacement is checked JSON.
    pub save: SessionSave,
    /// The topic's `session_ttl_s`.
    pub ttl_s: u64,
}

/// Read a sender's session (before an attempt).
#[derive(Debug, Message)]
#[rtype(result = "Result<Session, crate::actors::recorder::error::RecordError>")]
pub(crate) struct LoadSession {
    /// The topic.
    pub topic: String,
    /// The sender.
    pub number: PhoneNumber,
}

/// Add one failed attempt's reason to a job's durable attempt list.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), crate::actors::recorder::error::RecordError>")]
pub(crate) struct RecordAttempt {
    /// The topic.
    pub topic: String,
    /// The inbound MessageSid.
    pub sid: MessageSid,
    /// Why the attempt failed.
    pub reason: String,
}

/// Read a job's failed attempts so far (for a job delivered again).
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<String>, crate::actors::recorder::error::RecordError>")]
pub(crate) struct LoadAttempts {
    /// The topic.
    pub topic: String,
    /// The inbound MessageSid.
    pub sid: MessageSid,
}

/// Record that a number opted out of a topic (or back in), as `store::opt_outs` does for every
/// path. Answers whether it was acted on.
#[derive(Debug, Message)]
#[rtype(result = "Result<bool, crate::actors::recorder::error::RecordError>")]
pub(crate) struct SetOptOut {
    /// The topic.
    pub topic: String,
    /// The number.
    pub number: PhoneNumber,
    /// Out (STOP, 21610) or back in (START).
    pub change: crate::store::opt_outs::Change,
    /// What caused it.
    pub cause: crate::store::opt_outs::Cause,
}

/// Record a delivery status Twilio reported for an outbound message.
#[derive(Debug, Message)]
#[rtype(
    result = "Result<crate::outbound::delivery::DeliveryRecorded, crate::actors::recorder::error::RecordError>"
)]
pub(crate) struct RecordDelivery {
    /// The topic.
    pub topic: String,
    /// Twilio's SID of the outbound message.
    pub outbound_sid: String,
    /// `MessageStatus`.
    pub status: String,
    /// `ErrorCode`, if any.
    pub error_code: Option<String>,
    /// The callback's `To`, if any.
    pub to: Option<String>,
    /// Take the callback only for a SID whose send was stored (signatures off: anyone may post
    /// one).
    pub known_only: bool,
}
