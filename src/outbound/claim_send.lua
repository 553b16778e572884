-- Before a send (after pace_fn.lua), in one call: checks the send marker and the opt-outs, marks
-- a fresh send and reserves its turn on the topic's pace.
-- KEYS[1]  the send marker (Hash: marked_at, then sid, status, num_segments after the send)
-- KEYS[2]  the topic's opt-out hash
-- KEYS[3]  the topic's rate key (see pace_fn.lua)
-- ARGV[1]  the recipient's number
-- ARGV[2]  now, ms since the epoch
-- ARGV[3]  the marker's TTL, seconds
-- ARGV[4]  the pace's interval per segment, µs (0: the topic is not paced)
-- ARGV[5]  the send's segments
-- Answers {opted_out (0/1), wait (µs), field, value, ...}: an empty field list means the send was
-- fresh and is now marked (and its pace reserved: it goes after `wait`); a recipient who opted
-- out is never marked.
local opted = redis.call('HEXISTS', KEYS[2], ARGV[1])
local fields = redis.call('HGETALL', KEYS[1])
local wait = 0
if #fields == 0 and opted == 0 then
  redis.call('HSET', KEYS[1], 'marked_at', ARGV[2])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
  local interval = tonumber(ARGV[4])
  if interval > 0 then
    wait = math.floor(reserve_pace(KEYS[3], interval, tonumber(ARGV[5])))
  end
end
table.insert(fields, 1, wait)
table.insert(fields, 1, opted)
return fields
