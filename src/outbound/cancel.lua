-- Cancels a scheduled text, unless it has been queued already.
-- KEYS[1]  the topic's scheduled set
-- KEYS[2]  the text's hash (`out:{id}`)
-- ARGV[1]  the text's id
-- Returns `cancelled` (now or before), `missing` (no such text) or the status that keeps it
-- from being cancelled.
local status = redis.call('HGET', KEYS[2], 'status')
if not status then
  return 'missing'
end
if status == 'scheduled' then
  local to = redis.call('HGET', KEYS[2], 'to')
  redis.call('ZREM', KEYS[1], ARGV[1] .. '|' .. to)
  redis.call('HDEL', KEYS[2], 'job')
  redis.call('HSET', KEYS[2], 'status', 'cancelled')
  return 'cancelled'
end
return status
