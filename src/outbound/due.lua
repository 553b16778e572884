-- Moves due scheduled texts to the queue of their lane, each exactly once across all processes:
-- a text is queued only by the call that removed it from the scheduled set.
-- KEYS[1]  the topic's scheduled set
-- KEYS[2]  the topic's stream
-- KEYS[3]  the topic's opt-out hash
-- KEYS[4]  the topic's bulk stream
-- then per text, three keys: its hash (`out:{id}`), its recipient's list of unfinished jobs, and
--          its recipient's list of unfinished bulk jobs
-- ARGV[1]  record_ttl_s
-- then per text, two values: its member in the scheduled set (`{id}|{to}`) and its recipient
-- A text's lane is its hash's `lane` field (`bulk`; absent: interactive).
-- Returns how many texts were queued.
local keep = tonumber(ARGV[1])
local moved = 0
for i = 1, (#KEYS - 4) / 3 do
  local k = 4 + (i - 1) * 3
  local hash, sender, bulk_sender = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  local member, to = ARGV[1 + (i - 1) * 2 + 1], ARGV[1 + (i - 1) * 2 + 2]
  if redis.call('ZREM', KEYS[1], member) == 1 then
    local job = redis.call('HGET', hash, 'job')
    if job then
      redis.call('HDEL', hash, 'job')
      if redis.call('HEXISTS', KEYS[3], to) == 1 then
        redis.call('HSET', hash, 'status', 'opted_out')
      else
        local bulk = redis.call('HGET', hash, 'lane') == 'bulk'
        local entry = redis.call('XADD', bulk and KEYS[4] or KEYS[2], '*', 'job', job)
        redis.call('RPUSH', bulk and bulk_sender or sender, entry)
        redis.call('HSET', hash, 'status', 'queued', 'entry', entry)
        moved = moved + 1
      end
      redis.call('EXPIRE', hash, keep)
    end
  end
end
return moved
