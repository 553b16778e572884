-- Before sends (after pace_fn.lua), in one call for a batch of sends of one topic: checks each
-- send's marker and its recipient's opt-out, marks each fresh send and reserves its turn on the
-- topic's pace, in the order given.
-- KEYS[1]  the topic's opt-out hash
-- KEYS[2]  the topic's rate key (see pace_fn.lua)
-- then per send its marker (Hash: marked_at, then sid, status, num_segments after the send;
--          `cancelled` when its broadcast was cancelled before it got a SID)
-- ARGV[1]  now, ms since the epoch
-- ARGV[2]  the markers' TTL, seconds
-- ARGV[3]  the pace's interval per segment, µs (0: the topic is not paced)
-- then per send: the recipient's number, the send's segments, '1' for a bulk send
-- Answers per send {opted_out (0/1), wait (µs), field, value, ...}: an empty field list means
-- the send was fresh and is now marked (and its pace reserved: it goes after `wait`); a
-- recipient who opted out is never marked. A fresh bulk send takes the pace only when it is
-- free now (a reply reserved since goes first): otherwise it is not marked and answers
-- {0, wait, 'held', '1'}, to claim again after `wait`. A marker that says `cancelled` is not
-- fresh: it is answered as it is, and nothing is sent.
local now, ttl, interval = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local answers = {}
for i = 3, #KEYS do
  local a = 4 + (i - 3) * 3
  local opted = redis.call('HEXISTS', KEYS[1], ARGV[a])
  local fields = redis.call('HGETALL', KEYS[i])
  local wait = 0
  local busy = 0
  if #fields == 0 and opted == 0 and interval > 0 and ARGV[a + 2] == '1' then
    busy = pace_busy(KEYS[2])
  end
  if busy > 0 then
    wait = math.floor(busy)
    fields = {'held', '1'}
  elseif #fields == 0 and opted == 0 then
    redis.call('HSET', KEYS[i], 'marked_at', now)
    redis.call('EXPIRE', KEYS[i], ttl)
    if interval > 0 then
      wait = math.floor(reserve_pace(KEYS[2], interval, tonumber(ARGV[a + 1])))
    end
  end
  table.insert(fields, 1, wait)
  table.insert(fields, 1, opted)
  answers[#answers + 1] = fields
end
return answers
