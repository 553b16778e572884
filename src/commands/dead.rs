//! `pyrowire dead TOPIC`: list a topic's dead letters with every attempt's reason, and re-queue
//! them (`--requeue SID`, `--requeue-all`; see `store::dead_letters`). A re-queue onto
//! a queue that holds `max_queue_depth` jobs or more is refused, and the command stops there.

use std::fmt::Write;

use redis::Commands;

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

/// Lists (and re-queues, as asked) a topic's dead letters; returns the text to print.
pub fn dead(settings: &Settings, topic: &str, options: &DeadOptions) -> Result<String, DeadError> {
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
    let mut out = String::new();
    let mut requeue = options.requeue.clone();
    if options.requeue_all {
        let all: Vec<String> = conn.zrange(keys.dead(topic), 0, -1).map_err(redis_error)?;
        requeue.extend(all);
    }
    let max = settings.profile.max_queue_depth;
    for (done, sid) in requeue.iter().enumerate() {
        match requeue_one(&mut conn, &keys, topic, sid, max).map_err(redis_error)? {
            Requeued::Queued(id) => {
                let _ = writeln!(out, "re-queued {sid} as {id}");
            }
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
    let _ = writeln!(out, "{total} dead letter(s) in `{topic}`, newest first:");
    for sid in sids {
        let raw: Option<String> = conn
            .get(keys.dead_entry(topic, &sid))
            .map_err(redis_error)?;
        match raw.and_then(|r| serde_json::from_str::<DeadLetter>(&r).ok()) {
            Some(letter) => describe(&mut out, &letter),
            None => {
                let _ = writeln!(out, "  {sid}: expired");
            }
        }
    }
    Ok(out)
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

fn describe(out: &mut String, letter: &DeadLetter) {
    let message = &letter.job.message;
    let direction = if letter.job.outbound.is_some() {
        "outbound text to"
    } else {
        "from"
    };
    let _ = writeln!(
        out,
        "  {} {direction} {} ({} attempt(s)):",
        message.sid,
        mask_number(&message.number),
        letter.reasons.len()
    );
    for (i, reason) in letter.reasons.iter().enumerate() {
        let _ = writeln!(out, "    {}. {reason}", i + 1);
    }
}
