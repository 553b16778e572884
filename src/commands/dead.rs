//! `pyrowire dead TOPIC`: list a topic's dead letters with every attempt's reason, and re-queue
//! them (`--requeue SID`, `--requeue-all`; see `store::dead_letters`). A re-queue onto
//! a queue that holds `max_queue_depth` jobs or more is refused, and the command stops there.

use std::fmt::Write;

use redis::Commands;

use super::Direction;
use crate::domain::mask_number;
use crate::domain::record::DeadLetter;
use crate::settings::Settings;
use crate::store::blocking::{connect_for_tools, BlockingConn};
use crate::store::dead_letters::Requeued;
use crate::store::keys::Keys;

/// What to do with the dead letters.
#[derive(Debug, Clone, Default)]
pub struct DeadOptions {
    /// Re-queue these MessageSids.
    pub requeue: Vec<String>,
    /// Re-queue every dead letter of the topic.
    pub requeue_all: bool,
    /// How many to list.
    pub limit: usize,
}

/// Why the dead letters could not be read or re-queued.
#[derive(Debug, thiserror::Error)]
pub enum DeadError {
    /// No such topic in the settings.
    #[error("unknown topic `{0}`")]
    UnknownTopic(String),
    /// No dead letter with that MessageSid.
    #[error("no dead letter `{0}` in topic `{1}`")]
    NotFound(String, String),
    /// The topic's queue is full; the dead letter stays.
    #[error(
        "failed to re-queue `{sid}`: the queue of `{topic}` holds max_queue_depth ({max}) jobs \
         or more; it stays a dead letter ({done} re-queued before it)"
    )]
    QueueFull {
        /// The dead letter refused.
        sid: String,
        /// Its topic.
        topic: String,
        /// The profile's `max_queue_depth`.
        max: u64,
        /// How many were re-queued before it (`--requeue-all`, several `--requeue`).
        done: usize,
    },
    /// Redis failed.
    #[error("failed to reach redis at {url}")]
    Redis {
        /// The Redis URL, password removed.
        url: String,
        /// What Redis or the connection said.
        #[source]
        source: redis::RedisError,
    },
}

/// A re-queued dead letter.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RequeuedLetter {
    /// Its MessageSid (or outbound id).
    pub sid: String,
    /// Its new stream entry.
    pub entry: String,
}

/// One dead letter as `pyrowire dead` lists it (numbers masked).
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeadEntry {
    /// Its MessageSid (or outbound id).
    pub sid: String,
    /// False when it has expired: nothing but the SID is left.
    pub found: bool,
    /// `inbound` (a message received) or `outbound` (a text sent first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// The sender (inbound) or recipient (outbound), masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// Every attempt's reason, first to last.
    pub reasons: Vec<String>,
}

/// What `pyrowire dead TOPIC` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeadReport {
    /// The topic.
    pub topic: String,
    /// What was re-queued first, in order.
    pub requeued: Vec<RequeuedLetter>,
    /// Dead letters the topic holds (after the re-queues).
    pub total: usize,
    /// The newest of them, newest first (at most the limit).
    pub dead_letters: Vec<DeadEntry>,
}

/// Lists (and re-queues, as asked) a topic's dead letters; returns the text to print.
pub fn dead(settings: &Settings, topic: &str, options: &DeadOptions) -> Result<String, DeadError> {
    dead_report(settings, topic, options).map(|report| report.text())
}

/// Re-queues the dead letters asked for, then lists the newest.
pub fn dead_report(
    settings: &Settings,
    topic: &str,
    options: &DeadOptions,
) -> Result<DeadReport, DeadError> {
    if !settings.topics.contains_key(topic) {
        return Err(DeadError::UnknownTopic(topic.to_string()));
    }
    let (conn, url) = connect_for_tools(&settings.profile);
    let redis_error = |source| DeadError::Redis {
        url: url.clone(),
        source,
    };
    let mut conn = conn.map_err(redis_error)?;
    let keys = Keys::new(settings.profile.redis_prefix.clone());
    let mut requeue = options.requeue.clone();
    if options.requeue_all {
        let all: Vec<String> = conn.zrange(keys.dead(topic), 0, -1).map_err(redis_error)?;
        requeue.extend(all);
    }
    let max = settings.profile.max_queue_depth;
    let mut requeued = Vec::new();
    for (done, sid) in requeue.iter().enumerate() {
        match requeue_one(&mut conn, &keys, topic, sid, max).map_err(redis_error)? {
            Requeued::Queued(entry) => requeued.push(RequeuedLetter {
                sid: sid.clone(),
                entry,
            }),
            Requeued::Full => {
                let (sid, topic) = (sid.clone(), topic.to_string());
                return Err(DeadError::QueueFull {
                    sid,
                    topic,
                    max,
                    done,
                });
            }
            Requeued::Gone => return Err(DeadError::NotFound(sid.clone(), topic.to_string())),
        }
    }
    let last = options.limit.saturating_sub(1) as isize;
    let sids: Vec<String> = conn
        .zrevrange(keys.dead(topic), 0, last)
        .map_err(redis_error)?;
    let total: usize = conn.zcard(keys.dead(topic)).map_err(redis_error)?;
    let mut dead_letters = Vec::with_capacity(sids.len());
    for sid in sids {
        let raw: Option<String> = conn
            .get(keys.dead_entry(topic, &sid))
            .map_err(redis_error)?;
        let letter = raw.and_then(|r| serde_json::from_str::<DeadLetter>(&r).ok());
        dead_letters.push(entry(sid, letter.as_ref()));
    }
    Ok(DeadReport {
        topic: topic.to_string(),
        requeued,
        total,
        dead_letters,
    })
}

fn requeue_one(
    conn: &mut BlockingConn,
    keys: &Keys,
    topic: &str,
    sid: &str,
    max_depth: u64,
) -> redis::RedisResult<Requeued> {
    let raw: Option<String> = conn.get(keys.dead_entry(topic, sid))?;
    let Some(letter) = raw.and_then(|r| serde_json::from_str::<DeadLetter>(&r).ok()) else {
        return Ok(Requeued::Gone);
    };
    crate::store::dead_letters::requeue(keys, topic, sid, &letter, max_depth).invoke(conn)
}

/// A dead letter as `dead` lists it.
fn entry(sid: String, letter: Option<&DeadLetter>) -> DeadEntry {
    let Some(letter) = letter else {
        return DeadEntry {
            sid,
            found: false,
            direction: None,
            number: None,
            reasons: Vec::new(),
        };
    };
    let message = &letter.job.message;
    let outbound = letter.job.outbound.is_some();
    DeadEntry {
        sid: message.sid.to_string(),
        found: true,
        direction: Some(Direction::of(outbound)),
        number: Some(mask_number(&message.number)),
        reasons: letter.reasons.clone(),
    }
}

impl DeadReport {
    /// The report as `pyrowire dead` prints it.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for letter in &self.requeued {
            let _ = writeln!(out, "re-queued {} as {}", letter.sid, letter.entry);
        }
        let _ = writeln!(
            out,
            "{} dead letter(s) in `{}`, newest first:",
            self.total, self.topic
        );
        for entry in &self.dead_letters {
            describe(&mut out, entry);
        }
        out
    }
}

fn describe(out: &mut String, entry: &DeadEntry) {
    if !entry.found {
        let _ = writeln!(out, "  {}: expired", entry.sid);
        return;
    }
    let direction = match entry.direction {
        Some(Direction::Outbound) => "outbound text to",
        _ => "from",
    };
    let _ = writeln!(
        out,
        "  {} {direction} {} ({} attempt(s)):",
        entry.sid,
        entry.number.as_deref().unwrap_or_default(),
        entry.reasons.len()
    );
    for (i, reason) in entry.reasons.iter().enumerate() {
        let _ = writeln!(out, "    {}. {reason}", i + 1);
    }
}
