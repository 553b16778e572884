-- Acts on an opt-out or opt-in keyword once per MessageSid, so a replayed webhook (a captured,
-- correctly signed START sent again) changes nothing within the dedupe window.
-- KEYS[1]  the MessageSid's `seen` key (String, TTL dedup_ttl_s; shared with the enqueue script)
-- KEYS[2]  the topic's opt-out hash (number -> ms since the epoch when it opted out)
-- KEYS[3]  the sender's session (String), deleted by an opt-out: the conversation ends
-- KEYS[4]  the topic's sorted set of live sessions
-- ARGV[1]  the sender's number
-- ARGV[2]  '1' to opt out, '0' to opt back in
-- ARGV[3]  now, ms since the epoch
-- ARGV[4]  dedup_ttl_s
-- Returns 1 when the keyword was applied, 0 when its MessageSid was seen before.
if not redis.call('SET', KEYS[1], 'keyword', 'NX', 'EX', ARGV[4]) then
  return 0
end
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
  redis.call('DEL', KEYS[3])
  redis.call('ZREM', KEYS[4], ARGV[1])
else
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return 1
