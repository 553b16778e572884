//! Delivery status of sent messages, from Twilio's answer and its status callbacks. Callbacks
//! arrive out of order, so a status only moves forward: a late `sent` never overwrites
//! `delivered`. Kept per outbound message in [`crate::store::keys::Keys::delivery`].

use std::sync::LazyLock;

use redis::Script;

/// The Lua function both scripts use: moves a delivery hash forward to `status`, never back.
macro_rules! status_fn {
    () => {
        r#"
local function record_status(key, status, rank, code, now, ttl)
  local current = tonumber(redis.call('HGET', key, 'rank') or '-1')
  if tonumber(rank) <= current then return 0 end
  redis.call('HSET', key, 'status', status, 'rank', rank, 'updated_at', now)
  if code ~= '' then redis.call('HSET', key, 'error_code', code) end
  local history = redis.call('HGET', key, 'history')
  if history then history = history .. ',' .. status else history = status end
  redis.call('HSET', key, 'history', history)
  redis.call('EXPIRE', key, tonumber(ttl))
  return 1
end
"#
    };
}

/// KEYS: delivery hash. ARGV: status, rank, error code (or ""), now (ms), TTL (s).
pub const RECORD_STATUS_LUA: &str = concat!(
    status_fn!(),
    "return record_status(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])"
);

static RECORD_STATUS: LazyLock<Script> = LazyLock::new(|| Script::new(RECORD_STATUS_LUA));

/// After a send: store the Twilio SID (and status, segments) on the send marker and record the
/// first delivery status, in one call. KEYS: marker, delivery hash. ARGV: sid, status (or ""),
/// segments (or ""), TTL (s), rank, now (ms).
pub const STORE_SENT_LUA: &str = concat!(
    status_fn!(),
    r#"
redis.call('HSET', KEYS[1], 'sid', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'status', ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'num_segments', ARGV[3]) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
if ARGV[2] ~= '' then record_status(KEYS[2], ARGV[2], ARGV[5], '', ARGV[6], ARGV[4]) end
return 1
"#
);

/// How far along a status is; a status with a lower or equal rank does not replace a higher one.
/// Final statuses share the top ranks, so the first final status wins.
pub fn rank(status: &str) -> u8 {
    match status {
        "accepted" | "scheduled" => 1,
        "queued" => 2,
        "sending" => 3,
        "sent" => 4,
        "partially_delivered" => 5,
        "delivered" | "undelivered" | "failed" | "canceled" => 6,
        "read" => 7,
        _ => 0,
    }
}

/// Builds the script invocation that records `status` for one outbound message.
pub fn record_status(
    key: &str,
    status: &str,
    error_code: Option<&str>,
    ttl_s: u64,
) -> redis::ScriptInvocation<'static> {
    let mut invocation = RECORD_STATUS.prepare_invoke();
    invocation
        .key(key)
        .arg(status)
        .arg(rank(status))
        .arg(error_code.unwrap_or_default())
        .arg(crate::domain::clock::now_ms())
        .arg(ttl_s);
    invocation
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_only_move_forward() {
        assert!(rank("queued") < rank("sent"));
        assert!(rank("sent") < rank("delivered"));
        assert_eq!(rank("delivered"), rank("failed"));
        assert!(rank("delivered") < rank("read"));
        assert_eq!(rank("bogus"), 0);
    }
}
