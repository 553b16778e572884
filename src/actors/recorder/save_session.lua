-- Applies a completed job's change to its sender's session. Runs inside the recorder's
-- MULTI/EXEC (as EVAL), so the session moves on together with the job's completion record.
-- A number that opted out keeps no session, even when its last job completes after the STOP.
-- KEYS[1]  the sender's session (String, TTL session_ttl_s)
-- KEYS[2]  the topic's sorted set of live sessions (number -> expiry, ms)
-- KEYS[3]  the topic's opt-out hash
-- ARGV[1]  the sender's number
-- ARGV[2]  'keep' (restart the clock of an existing session), 'replace' or 'end'
-- ARGV[3]  the new session's JSON (for 'replace')
-- ARGV[4]  session_ttl_s
-- ARGV[5]  now, ms since the epoch
-- Returns 1 when a session is left, 0 when none is.
local number, mode, ttl, now = ARGV[1], ARGV[2], tonumber(ARGV[4]), tonumber(ARGV[5])
if mode == 'end' or redis.call('HEXISTS', KEYS[3], number) == 1 then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], number)
  return 0
end
local expires_at = now + ttl * 1000
if mode == 'replace' then
  redis.call('SET', KEYS[1], ARGV[3], 'EX', ttl)
  redis.call('ZADD', KEYS[2], expires_at, number)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. now)
  return 1
end
if redis.call('EXPIRE', KEYS[1], ttl) == 1 then
  redis.call('ZADD', KEYS[2], expires_at, number)
  return 1
end
redis.call('ZREM', KEYS[2], number)
return 0
