//! Re-queueing dead letters, shared by `pyrowire dead` and the dashboard: the job goes back to the
//! end of its topic's queue (and of its sender's list) with a fresh attempt count, atomically
//! with its removal from the dead letters. Replies it already sent are not sent again (their
//! send markers stay).

use std::sync::LazyLock;

use redis::Script;

use crate::domain::record::DeadLetter;
use crate::store::keys::Keys;

/// KEYS: dead set, dead entry, stream, sender list, attempts. ARGV: sid, job JSON.
const REQUEUE_LUA: &str = r#"
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
local id = redis.call('XADD', KEYS[3], '*', 'job', ARGV[2])
redis.call('RPUSH', KEYS[4], id)
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2], KEYS[5])
return id
"#;

static REQUEUE: LazyLock<Script> = LazyLock::new(|| Script::new(REQUEUE_LUA));

/// The script call that re-queues `letter`; it answers the new stream id, or nil when the dead
/// letter is gone.
pub fn requeue(
    keys: &Keys,
    topic: &str,
    sid: &str,
    letter: &DeadLetter,
) -> redis::ScriptInvocation<'static> {
    let job = serde_json::to_string(&letter.job).expect("a job that was deserialized serializes");
    let mut invocation = REQUEUE.prepare_invoke();
    invocation
        .key(keys.dead(topic))
        .key(keys.dead_entry(topic, sid))
        .key(keys.queue(topic))
        .key(keys.sender(topic, &letter.job.message.number))
        .key(keys.attempts(topic, sid))
        .arg(sid)
        .arg(job);
    invocation
}
