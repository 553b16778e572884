//! Re-queueing dead letters, shared by `pyrowire dead` and the dashboard: the job goes back to the
//! end of its topic's queue (and of its sender's list) with a fresh attempt count, atomically
//! with its removal from the dead letters, marked as re-queued. Replies it already sent are not
//! sent again: their send markers say so while they live (`record_ttl_s` from each send), and
//! once they may have expired (a dead letter is kept `dead_letter_ttl_s`) each send of the
//! re-queued job is looked up in Twilio's Messages list first, as an interrupted send is. Like a
//! webhook, a re-queue is refused while the queue holds `max_queue_depth` jobs or more; the dead
//! letter then stays where it is.

use std::sync::LazyLock;

use redis::{FromRedisValue, RedisResult, Script, Value};

use crate::domain::record::DeadLetter;
use crate::store::keys::Keys;

/// See `requeue.lua`.
static REQUEUE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("requeue.lua")));

/// What a re-queue did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Requeued {
    /// The job is back on the queue as this stream entry.
    Queued(String),
    /// The queue holds `max_queue_depth` jobs or more; the dead letter stays.
    Full,
    /// There is no such dead letter (re-queued meanwhile, or expired).
    Gone,
}

impl FromRedisValue for Requeued {
    fn from_redis_value(value: &Value) -> RedisResult<Self> {
        let answer: Option<String> = FromRedisValue::from_redis_value(value)?;
        match answer.as_deref() {
            None => Ok(Requeued::Gone),
            Some("f") => Ok(Requeued::Full),
            Some(id) if id.starts_with('n') => Ok(Requeued::Queued(id[1..].to_string())),
            Some(other) => Err(redis::RedisError::from((
                redis::ErrorKind::TypeError,
                "unexpected answer from the requeue script",
                other.to_string(),
            ))),
        }
    }
}

/// The script call that re-queues `letter` unless the topic's queue holds `max_depth` jobs or
/// more; it answers a [`Requeued`].
pub(crate) fn requeue(
    keys: &Keys,
    topic: &str,
    sid: &str,
    letter: &DeadLetter,
    max_depth: u64,
) -> redis::ScriptInvocation<'static> {
    let requeued = letter.job.requeued(crate::domain::clock::now_ms());
    let job = serde_json::to_string(&requeued).expect("a job that was deserialized serializes");
    let mut invocation = REQUEUE.prepare_invoke();
    invocation
        .key(keys.dead(topic))
        .key(keys.dead_entry(topic, sid))
        .key(keys.queue(topic))
        .key(keys.sender(topic, &letter.job.message.number))
        .key(keys.attempts(topic, sid))
        .arg(sid)
        .arg(job)
        .arg(max_depth);
    invocation
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: Value) -> RedisResult<Requeued> {
        Requeued::from_redis_value(&value)
    }

    #[test]
    fn reads_each_answer_of_the_script() {
        assert_eq!(parse(Value::Nil).unwrap(), Requeued::Gone);
        assert_eq!(
            parse(Value::BulkString(b"f".to_vec())).unwrap(),
            Requeued::Full
        );
        assert_eq!(
            parse(Value::BulkString(b"n1700000000000-0".to_vec())).unwrap(),
            Requeued::Queued("1700000000000-0".into())
        );
    }

    #[test]
    fn refuses_an_answer_the_script_never_gives() {
        assert!(parse(Value::BulkString(b"x".to_vec())).is_err());
    }
}
