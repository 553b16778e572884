-- The one way a number opts out or back in, for every path that does it (a keyword at ingress,
-- Twilio's error 21610 in answer to a send or in a status callback): the opt-out hash, and for an
-- opt-out the sender's session ended. A keyword is acted on once per MessageSid, so a replayed
-- webhook (a captured, correctly signed START sent again) changes nothing within the dedupe
-- window. A change (not a repeat: a number already out opting out again) is also an event
-- (`number.opted_out` / `number.opted_in`) for the application (after emit_fn.lua).
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
-- KEYS[7]  the topic's event stream   KEYS[8]  the topic's totals (Hash)
-- ARGV[5]  '1' to act once per MessageSid (a keyword), '0' to act whatever came before
-- ARGV[6..15]  the event of a change, as emit_event takes it after its keys
-- Returns {applied, event}: applied is 1 when the change was applied, 0 when its MessageSid was
-- seen before; event is emit_event's answer (0 when nothing changed).
if ARGV[5] == '1' and not redis.call('SET', KEYS[1], 'keyword', 'NX', 'EX', ARGV[4]) then
  return {0, 0}
end
local changed
if ARGV[2] == '1' then
  changed = redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
  redis.call('DEL', KEYS[3])
  redis.call('ZREM', KEYS[4], ARGV[1])
  redis.call('ZREM', KEYS[5], ARGV[1])
  redis.call('DEL', KEYS[6])
else
  changed = redis.call('HDEL', KEYS[2], ARGV[1])
end
local event = 0
if changed == 1 then
  event = emit_event(KEYS[7], KEYS[8], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11],
    ARGV[12], ARGV[13], ARGV[14], ARGV[15])
end
return {1, event}
