-- Before a send: checks the send marker and the opt-outs, and marks a fresh send, in one call.
-- KEYS[1]  the send marker (Hash: marked_at, then sid, status, num_segments after the send)
-- KEYS[2]  the topic's opt-out hash
-- ARGV[1]  the recipient's number
-- ARGV[2]  now, ms since the epoch
-- ARGV[3]  the marker's TTL, seconds
-- Answers {opted_out (0/1), field, value, ...}: an empty field list means the send was fresh and
-- is now marked; a recipient who opted out is never marked.
local opted = redis.call('HEXISTS', KEYS[2], ARGV[1])
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 and opted == 0 then
  redis.call('HSET', KEYS[1], 'marked_at', ARGV[2])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
end
table.insert(fields, 1, opted)
return fields
