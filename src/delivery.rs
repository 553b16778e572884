//! Delivery status of sent messages, from Twilio's answer and its status callbacks. Callbacks
//! arrive out of order, so a status only moves forward: a late `sent` never overwrites
//! `delivered`. Kept per outbound message in [`crate::redis_keys::Keys::delivery`].

/// KEYS: delivery hash. ARGV: status, rank, error code (or ""), now (ms), TTL (s).
pub const RECORD_STATUS_LUA: &str = r#"
local current = tonumber(redis.call('HGET', KEYS[1], 'rank') or '-1')
if tonumber(ARGV[2]) <= current then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'rank', ARGV[2], 'updated_at', ARGV[4])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'error_code', ARGV[3]) end
local history = redis.call('HGET', KEYS[1], 'history')
if history then history = history .. ',' .. ARGV[1] else history = ARGV[1] end
redis.call('HSET', KEYS[1], 'history', history)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
return 1
"#;

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
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    let script = SCRIPT.get_or_init(|| redis::Script::new(RECORD_STATUS_LUA));
    let mut invocation = script.prepare_invoke();
    invocation
        .key(key)
        .arg(status)
        .arg(rank(status))
        .arg(error_code.unwrap_or_default())
        .arg(crate::clock::now_ms())
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
