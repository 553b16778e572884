-- The function the completion (complete.lua) opens with: applies a completed job's change to
-- its sender's session, so the session moves on together with the job's completion record. A
-- number that opted out keeps no session, even when its last job completes after the STOP.
-- session   the sender's session (String, TTL session_ttl_s)
-- sessions  the topic's sorted set of live sessions (number -> expiry, ms)
-- optouts   the topic's opt-out hash
-- mode      'keep' (restart the clock of an existing session), 'replace' or 'end'
-- json      the new session's JSON (for 'replace')
-- Returns 1 when a session is left, 0 when none is.
local function save_session(session, sessions, optouts, number, mode, json, ttl, now)
  if mode == 'end' or redis.call('HEXISTS', optouts, number) == 1 then
    redis.call('DEL', session)
    redis.call('ZREM', sessions, number)
    return 0
  end
  local expires_at = now + ttl * 1000
  if mode == 'replace' then
    redis.call('SET', session, json, 'EX', ttl)
    redis.call('ZADD', sessions, expires_at, number)
    redis.call('ZREMRANGEBYSCORE', sessions, '-inf', '(' .. now)
    return 1
  end
  if redis.call('EXPIRE', session, ttl) == 1 then
    redis.call('ZADD', sessions, expires_at, number)
    return 1
  end
  redis.call('ZREM', sessions, number)
  return 0
end
