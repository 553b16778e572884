-- The one way a number opts out or back in, for every path that does it (a keyword at ingress,
-- Twilio's error 21610 in answer to a send or in a status callback): the opt-out hash, and for an
-- opt-out the sender's session ended. A keyword is acted on once per MessageSid, so a replayed
-- webhook (a captured, correctly signed START sent again) changes nothing within the dedupe
-- window.
-- KEYS[1]  the MessageSid's `seen` key (String, TTL dedup_ttl_s; shared with the enqueue
--          script), or, when ARGV[5] is '0', any key of the topic (not touched)
-- KEYS[2]  the topic's opt-out hash (number -> ms since the epoch when it opted out)
-- KEYS[3]  the sender's session (String), deleted by an opt-out: the conversation ends
-- KEYS[4]  the topic's sorted set of live sessions
-- KEYS[5]  the topic's numbers waited for, KEYS[6] this number's reply-timeout event: an opt-out
--          ends the wait
-- ARGV[1]  the number
-- ARGV[2]  '1' to opt out, '0' to opt back in
-- ARGV[3]  now, ms since the epoch
-- ARGV[4]  dedup_ttl_s
-- ARGV[5]  '1' to act once per MessageSid (a keyword), '0' to act whatever came before
-- Returns 1 when the change was applied, 0 when its MessageSid was seen before.
if ARGV[5] == '1' and not redis.call('SET', KEYS[1], 'keyword', 'NX', 'EX', ARGV[4]) then
  return 0
end
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
  redis.call('DEL', KEYS[3])
  redis.call('ZREM', KEYS[4], ARGV[1])
  redis.call('ZREM', KEYS[5], ARGV[1])
  redis.call('DEL', KEYS[6])
else
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return 1
