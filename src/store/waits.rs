//! Waits for a sender's reply (`expect_reply_within`): the recorder sets one with the completion
//! that asks for it (`complete.lua`), the sender's next completion or an opt-out ends it, and the
//! `Scheduler` queues the `reply_timeout` event of each wait that ended (`waits.lua`), once
//! across all processes.

use std::sync::LazyLock;

use crate::domain::now_ms;
use crate::store::connection::RedisConn;
use crate::store::keys::Keys;

static WAITS: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("waits.lua")));

/// Most waits one [`queue_ended`] call looks at.
pub(crate) const WAIT_BATCH: usize = 200;

/// What one [`queue_ended`] call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Ended {
    /// Waits found over (at most [`WAIT_BATCH`]).
    pub found: usize,
    /// Events this call queued.
    pub queued: u64,
}

/// Queues the `reply_timeout` events of up to [`WAIT_BATCH`] of the topic's waits that ended.
pub(crate) async fn queue_ended(
    conn: &mut RedisConn,
    keys: &Keys,
    topic: &str,
) -> redis::RedisResult<Ended> {
    let waiting = keys.waiting(topic);
    let over: Vec<(String, String)> = redis::cmd("ZRANGEBYSCORE")
        .arg(&waiting)
        .arg("-inf")
        .arg(now_ms())
        .arg("WITHSCORES")
        .arg("LIMIT")
        .arg(0)
        .arg(WAIT_BATCH)
        .query_async(conn)
        .await?;
    if over.is_empty() {
        return Ok(Ended::default());
    }
    let mut script_keys = vec![waiting, keys.queue(topic), keys.opt_outs(topic)];
    let mut args = Vec::with_capacity(over.len() * 2);
    for (number, score) in &over {
        script_keys.extend([keys.waiting_job(topic, number), keys.sender(topic, number)]);
        args.extend([number.as_bytes().to_vec(), score.as_bytes().to_vec()]);
    }
    let queued: u64 = conn
        .run_script(&WAITS, include_str!("waits.lua"), &script_keys, &args)
        .await
        .map_err(|e| e.into_redis("reply-timeout events queued but not confirmed by replicas"))?;
    Ok(Ended {
        found: over.len(),
        queued,
    })
}
