-- Moves due scheduled texts to the queue, each exactly once across all processes: a text is
-- queued only by the call that removed it from the scheduled set.
-- KEYS[1]  the topic's scheduled set
-- KEYS[2]  the topic's stream
-- KEYS[3]  the topic's opt-out hash
-- then per text, two keys: its hash (`out:{id}`) and its recipient's list of unfinished jobs
-- ARGV[1]  record_ttl_s
-- then per text, two values: its member in the scheduled set (`{id}|{to}`) and its recipient
-- Returns how many texts were queued.
local keep = tonumber(ARGV[1])
local moved = 0
for i = 1, (#KEYS - 3) / 2 do
  local hash, sender = KEYS[3 + (i - 1) * 2 + 1], KEYS[3 + (i - 1) * 2 + 2]
  local member, to = ARGV[1 + (i - 1) * 2 + 1], ARGV[1 + (i - 1) * 2 + 2]
  if redis.call('ZREM', KEYS[1], member) == 1 then
    local job = redis.call('HGET', hash, 'job')
    if job then
      redis.call('HDEL', hash, 'job')
      if redis.call('HEXISTS', KEYS[3], to) == 1 then
        redis.call('HSET', hash, 'status', 'opted_out')
      else
        local entry = redis.call('XADD', KEYS[2], '*', 'job', job)
        redis.call('RPUSH', sender, entry)
        redis.call('HSET', hash, 'status', 'queued', 'entry', entry)
        moved = moved + 1
      end
      redis.call('EXPIRE', hash, keep)
    end
  end
end
return moved
