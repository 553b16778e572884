//! Scheduled outbound texts: moving the due ones to the queue (`due.lua`, for the `Scheduler`
//! actor) and cancelling one (`cancel.lua`), each once across all processes.

use redis::AsyncCommands;

use super::outbox::OutboxError;
use crate::domain::now_ms;
use crate::store::connection::RedisConn;
use crate::store::keys::Keys;

static DUE: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(include_str!("due.lua")));
static CANCEL: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(include_str!("cancel.lua")));

/// What cancelling a text did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancelled {
    /// It will not be sent (cancelled now or before).
    Cancelled,
    /// No such text.
    Missing,
    /// Too late: it was queued (or opted out) already; its status is this.
    TooLate(String),
}

/// Cancels a scheduled text.
pub(crate) async fn cancel(
    conn: &mut RedisConn,
    keys: &Keys,
    topic: &str,
    id: &str,
) -> Result<Cancelled, OutboxError> {
    let answer: String = conn
        .run_script(
            &CANCEL,
            include_str!("cancel.lua"),
            &[keys.scheduled(topic), keys.outbound(topic, id)],
            &[id.as_bytes().to_vec()],
        )
        .await?;
    Ok(match answer.as_str() {
        "cancelled" => Cancelled::Cancelled,
        "missing" => Cancelled::Missing,
        _ => Cancelled::TooLate(answer),
    })
}

/// What one [`move_due`] call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Moved {
    /// Due texts it found (at most [`DUE_BATCH`]).
    pub found: u64,
    /// Of those, the ones this call queued (not moved by another process first, not cancelled,
    /// not opted out).
    pub queued: u64,
}

/// Most texts one [`move_due`] call moves.
pub(crate) const DUE_BATCH: isize = 200;

/// Moves up to [`DUE_BATCH`] of the topic's due scheduled texts to the queue (or, for a number
/// that opted out since, to `opted_out`).
pub(crate) async fn move_due(
    conn: &mut RedisConn,
    keys: &Keys,
    topic: &str,
    record_ttl_s: u64,
) -> redis::RedisResult<Moved> {
    let scheduled = keys.scheduled(topic);
    let due: Vec<String> = conn
        .zrangebyscore_limit(&scheduled, "-inf", now_ms(), 0, DUE_BATCH)
        .await?;
    if due.is_empty() {
        return Ok(Moved::default());
    }
    let mut script_keys = vec![
        scheduled,
        keys.queue(topic),
        keys.opt_outs(topic),
        keys.bulk_queue(topic),
    ];
    let mut args = vec![record_ttl_s.to_string().into_bytes()];
    for member in &due {
        let Some((id, to)) = member.split_once('|') else {
            continue;
        };
        script_keys.extend([
            keys.outbound(topic, id),
            keys.sender(topic, to),
            keys.bulk_sender(topic, to),
        ]);
        args.extend([member.as_bytes().to_vec(), to.as_bytes().to_vec()]);
    }
    let queued: u64 = conn
        .run_script(&DUE, include_str!("due.lua"), &script_keys, &args)
        .await
        .map_err(|e| e.into_redis("scheduled texts moved but not confirmed by replicas"))?;
    Ok(Moved {
        found: due.len() as u64,
        queued,
    })
}
