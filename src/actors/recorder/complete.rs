//! Completed jobs, for the `Recorder`: each job's record, acknowledgement, sends' Twilio SIDs and
//! its sender's session, and the topic's counts, in one script call (`complete.lua`) for a batch
//! of jobs of one topic, so each job leaves the queue only together with all of them; and a
//! dead-lettered job, in one MULTI with its dead letter.

use std::sync::LazyLock;

use redis::Script;
use tokio::sync::oneshot;

use super::{RecordError, Retention};
use crate::actors::messages::{RecordOutcome, Waiting};
use crate::domain::clock::now_ms;
use crate::domain::record::DeadLetter;
use crate::domain::SessionSave;
use crate::events::{Emit, EventKind, EMIT_FN};
use crate::outbound::delivery::SENT_FNS;
use crate::store::batches::Item;
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

/// Most jobs one completion call carries (a job writes about a dozen keys: well under a
/// millisecond of Redis for a batch).
pub(super) const MAX_JOBS: usize = 32;

/// One completed job waiting for its batch: its keys and values in the call, and who waits for
/// the outcome.
pub(super) struct Piece {
    keys: Vec<String>,
    args: Vec<Vec<u8>>,
    pub(super) reply: oneshot::Sender<Result<(), RecordError>>,
}

/// `msg`'s part of a completion call (a completed job), and the receiver of its outcome.
pub(super) fn piece(
    keys: &Keys,
    msg: &RecordOutcome,
) -> Result<(Piece, oneshot::Receiver<Result<(), RecordError>>), serde_json::Error> {
    let record = &msg.record;
    let (topic, sid) = (&record.message.topic, record.message.sid.as_str());
    let number = record.message.number.as_str();
    let mut job_keys = vec![
        keys.record(topic, sid),
        keys.lane_sender(topic, number, msg.lane),
        keys.attempts(topic, sid),
        keys.session(topic, number),
        keys.waiting_job(topic, number),
    ];
    let (wait, due, event): (&[u8], u64, &[u8]) = match &msg.waiting {
        Waiting::Leave => (b"", 0, b""),
        Waiting::Clear => (b"clear", 0, b""),
        Waiting::Until { due_ms, job } => (b"set", *due_ms, job.as_bytes()),
    };
    let (mode, json, ttl) = match &msg.session {
        None => ("", "", 0),
        Some(write) => match &write.save {
            SessionSave::Keep => ("keep", "", write.ttl_s),
            SessionSave::Replace(json) => ("replace", json.as_str(), write.ttl_s),
            SessionSave::End => ("end", "", write.ttl_s),
        },
    };
    let mut args: Vec<Vec<u8>> = vec![
        msg.stores.len().to_string().into_bytes(),
        serde_json::to_vec(record)?,
        msg.entry_id.clone().into_bytes(),
        sid.as_bytes().to_vec(),
        if msg.had_attempts {
            b"1".to_vec()
        } else {
            b"0".to_vec()
        },
        mode.as_bytes().to_vec(),
        json.as_bytes().to_vec(),
        ttl.to_string().into_bytes(),
        number.as_bytes().to_vec(),
        wait.to_vec(),
        due.to_string().into_bytes(),
        event.to_vec(),
        if msg.lane.is_bulk() {
            b"bulk".to_vec()
        } else {
            Vec::new()
        },
    ];
    for store in &msg.stores {
        job_keys.push(store.mark.clone());
        job_keys.push(store.delivery.clone());
        args.extend(store.args().map(String::into_bytes));
    }
    let (reply, outcome) = oneshot::channel();
    let piece = Piece {
        keys: job_keys,
        args,
        reply,
    };
    Ok((piece, outcome))
}

/// The completion of `pieces` (completed jobs of `topic`) as one script call.
pub(super) fn completion(
    keys: &Keys,
    keep: &Retention,
    topic: &str,
    pieces: &[Item<Piece>],
) -> redis::ScriptInvocation<'static> {
    let now = now_ms();
    let mut call = COMPLETE.prepare_invoke();
    call.key(keys.queue(topic))
        .key(keys.stats(topic))
        .key(keys.minute_stats(topic, now / 60_000 * 60_000))
        .key(keys.completed(topic))
        .key(keys.sessions(topic))
        .key(keys.opt_outs(topic))
        .key(keys.waiting(topic))
        .key(keys.bulk_queue(topic));
    call.arg(keep.record_ttl_s)
        .arg(GROUP)
        .arg(keep.recent.max(1))
        .arg(MINUTE_STATS_TTL_S)
        .arg(now)
        .arg(pieces.len());
    for Item { value: piece, .. } in pieces {
        for key in &piece.keys {
            call.key(key);
        }
        for arg in &piece.args {
            call.arg(arg.as_slice());
        }
    }
    call
}

/// What the dead letter's MULTI runs to emit its event (`emit_fn.lua`, then one call).
static EMIT_DEAD: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{EMIT_FN}return emit_event(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], \
         ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10])"
    )
});

/// The MULTI that records a dead-lettered job: its record and dead letter, acknowledged, its
/// attempts deleted, the counts, the wait for its sender's reply ended (the sender wrote), and,
/// when the topic sends events (`events`), its `message.dead_lettered` event; the session left
/// as it was.
pub(super) fn dead_lettered(
    keys: &Keys,
    keep: &Retention,
    msg: &RecordOutcome,
    dead: &DeadLetter,
    events: bool,
) -> Result<redis::Pipeline, serde_json::Error> {
    let record = &msg.record;
    let (topic, sid) = (&record.message.topic, record.message.sid.as_str());
    let queue = keys.lane_queue(topic, msg.lane);
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
        .lrem(
            keys.lane_sender(topic, record.message.number.as_str(), msg.lane),
            1,
            &msg.entry_id,
        )
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
    if msg.waiting == Waiting::Clear {
        let number = record.message.number.as_str();
        pipe.zrem(keys.waiting(topic), number)
            .del(keys.waiting_job(topic, number));
    }
    if events {
        let mut event = Emit::of(true, EventKind::DeadLettered);
        event.number = record.message.number.to_string();
        event.job = sid.to_string();
        event.set_error(dead.reasons.last().map_or("", String::as_str));
        event.error_code = dead.error_code.map(|c| c.to_string()).unwrap_or_default();
        // Its answer (-1 when the backlog is full, counted in the totals) is not read: the
        // MULTI's answers are ignored.
        pipe.cmd("EVAL")
            .arg(EMIT_DEAD.as_str())
            .arg(2)
            .arg(keys.events(topic))
            .arg(keys.stats(topic))
            .arg(&event.args(now)[..])
            .ignore();
    }
    Ok(pipe)
}
