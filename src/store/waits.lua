-- Queues the reply-timeout events whose wait ended, each once across all processes: an event is
-- queued only by the call that removed its number from the waiting set, and only if that entry
-- is still the one read (a completion since may have set a new wait). Nothing is queued for a
-- sender who wrote meanwhile (a job of theirs is unfinished: its completion decides) or who opted
-- out.
-- KEYS[1]  the topic's numbers waited for (Sorted set)
-- KEYS[2]  the topic's stream
-- KEYS[3]  the topic's opt-out hash
-- then per number, two keys: its event's job (String) and its list of unfinished jobs
-- ARGV per number, two values: the number and its score as read
-- Returns how many events were queued.
local queued = 0
for i = 1, (#KEYS - 3) / 2 do
  local event, sender = KEYS[3 + (i - 1) * 2 + 1], KEYS[3 + (i - 1) * 2 + 2]
  local number, score = ARGV[(i - 1) * 2 + 1], ARGV[(i - 1) * 2 + 2]
  if redis.call('ZSCORE', KEYS[1], number) == score then
    redis.call('ZREM', KEYS[1], number)
    local job = redis.call('GET', event)
    redis.call('DEL', event)
    if job and redis.call('LLEN', sender) == 0 and redis.call('HEXISTS', KEYS[3], number) == 0 then
      local entry = redis.call('XADD', KEYS[2], '*', 'job', job)
      redis.call('RPUSH', sender, entry)
      queued = queued + 1
    end
  end
end
return queued
