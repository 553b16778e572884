//! Sending pace per topic, shared by every process on the Redis: a reservation on a generic cell
//! rate (GCRA) clock. Each send reserves its segments and learns how long to wait before posting,
//! so a burst is spread out at `max_sends_per_second` instead of piling up in Twilio's queue
//! (error 30001). Redis's own clock is used, so processes on different machines agree.

use std::sync::LazyLock;
use std::time::Duration;

use crate::store::connection::RedisConn;
use redis::Script;

/// See `pacing.lua` (after `pace_fn.lua`, which the send claim opens with too).
static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("pace_fn.lua"),
        include_str!("pacing.lua")
    ))
});

/// The pace's interval per segment, µs, for `per_second` segments a second.
pub(crate) fn interval_us(per_second: f64) -> u64 {
    (1_000_000.0 / per_second).round().max(1.0) as u64
}

/// Reserves `segments` sends at `per_second` on `key`; returns how long to wait before sending.
pub(crate) async fn reserve(
    conn: &mut RedisConn,
    key: &str,
    per_second: f64,
    segments: u32,
) -> redis::RedisResult<Duration> {
    let wait: String = RESERVE
        .key(key)
        .arg(interval_us(per_second))
        .arg(segments.max(1))
        .invoke_async(conn)
        .await?;
    Ok(Duration::from_micros(wait.parse().unwrap_or(0)))
}
