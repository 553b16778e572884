//! A completed job, for the `Recorder`: its record, acknowledgement, sends' Twilio SIDs, the
//! sender's session and the counts, in one script call (`complete.lua`), so the job leaves the
//! queue only together with all of them; and a dead-lettered job, in one MULTI with its dead
//! letter.

use std::sync::LazyLock;

use redis::Script;

use super::Retention;
use crate::actors::messages::RecordOutcome;
use crate::domain::clock::now_ms;
use crate::domain::record::DeadLetter;
use crate::domain::SessionSave;
use crate::outbound::delivery::SENT_FNS;
use crate::store::keys::{Keys, GROUP};

/// Per-minute counts are kept this long (the dashboard shows the last hour).
pub(super) const MINUTE_STATS_TTL_S: i64 = 2 * 3600;

/// See `complete.lua` (after `status_fn.lua`, `sent_fn.lua` and `session_fn.lua`).
static COMPLETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{SENT_FNS}{}{}",
        include_str!("session_fn.lua"),
        include_str!("complete.lua")
    ))
});

/// The completion of `msg` (a completed job) as one script call.
pub(super) fn completion(
    keys: &Keys,
    keep: &Retention,
    msg: &RecordOutcome,
) -> Result<redis::ScriptInvocation<'static>, serde_json::Error> {
    let record = &msg.record;
    let (topic, sid) = (&record.message.topic, record.message.sid.as_str());
    let number = record.message.number.as_str();
    let now = now_ms();
    let mut call = COMPLETE.prepare_invoke();
    call.key(keys.record(topic, sid))
        .key(keys.queue(topic))
        .key(keys.sender(topic, number))
        .key(keys.attempts(topic, sid))
        .key(keys.stats(topic))
        .key(keys.minute_stats(topic, now / 60_000 * 60_000))
        .key(keys.completed(topic))
        .key(keys.session(topic, number))
        .key(keys.sessions(topic))
        .key(keys.opt_outs(topic));
    for store in &msg.stores {
        call.key(&store.mark).key(&store.delivery);
    }
    let (mode, json, ttl) = match &msg.session {
        None => ("", "", 0),
        Some(write) => match &write.save {
            SessionSave::Keep => ("keep", "", write.ttl_s),
            SessionSave::Replace(json) => ("replace", json.as_str(), write.ttl_s),
            SessionSave::End => ("end", "", write.ttl_s),
        },
    };
    call.arg(serde_json::to_string(record)?)
        .arg(keep.record_ttl_s)
        .arg(&msg.entry_id)
        .arg(GROUP)
        .arg(sid)
        .arg(keep.recent.max(1))
        .arg(MINUTE_STATS_TTL_S)
        .arg(if msg.had_attempts { "1" } else { "0" })
        .arg(mode)
        .arg(json)
        .arg(ttl)
        .arg(number)
        .arg(now);
    for store in &msg.stores {
        for arg in store.args() {
            call.arg(arg);
        }
    }
    Ok(call)
}

/// The MULTI that records a dead-lettered job: its record and dead letter, acknowledged, its
/// attempts deleted, the counts; the session left as it was.
pub(super) fn dead_lettered(
    keys: &Keys,
    keep: &Retention,
    msg: &RecordOutcome,
    dead: &DeadLetter,
) -> Result<redis::Pipeline, serde_json::Error> {
    let record = &msg.record;
    let (topic, sid) = (&record.message.topic, record.message.sid.as_str());
    let queue = keys.queue(topic);
    let now = now_ms();
    let minute = keys.minute_stats(topic, now / 60_000 * 60_000);
    let outcome = record.outcome.as_str();
    let list = keys.dead(topic);
    let oldest = now.saturating_sub(keep.dead_letter_ttl_s * 1000);
    let mut pipe = redis::pipe();
    pipe.atomic()
        .set_ex(
            keys.record(topic, sid),
            serde_json::to_string(record)?,
            keep.record_ttl_s,
        )
        .xack(&queue, GROUP, &[&msg.entry_id])
        .xdel(&queue, &[&msg.entry_id])
        .lrem(keys.sender(topic, &record.message.number), 1, &msg.entry_id)
        .del(keys.attempts(topic, sid))
        .hincr(keys.stats(topic), outcome, 1)
        .hincr(&minute, outcome, 1)
        .expire(&minute, MINUTE_STATS_TTL_S)
        .set_ex(
            keys.dead_entry(topic, sid),
            serde_json::to_string(dead)?,
            keep.dead_letter_ttl_s,
        )
        .zadd(&list, sid, now)
        .zrembyscore(&list, "-inf", format!("({oldest}"))
        .zremrangebyrank(&list, 0, -(keep.max_dead_letters as isize) - 1);
    Ok(pipe)
}
