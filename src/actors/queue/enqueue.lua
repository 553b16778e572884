-- Queues a batch of jobs atomically, each de-duplicated by its MessageSid and counted against
-- the topic's max_queue_depth on its own.
-- KEYS[1]          the topic's queue stream
-- KEYS[2i], [2i+1] job i's `seen` key (String, TTL) and its sender's list (the order per sender)
-- ARGV[1]          dedup_ttl_s
-- ARGV[2]          max_queue_depth
-- ARGV[i+2]        job i's payload (versioned JSON)
-- Answers, per job: 'n<id>' (queued as stream entry id), 'd<id>' (a duplicate of entry id: only
-- read, nothing written) or 'f' (the queue is full). A duplicate inside the batch is answered
-- with the entry its first copy just got.
local stream = KEYS[1]
local ttl, max = tonumber(ARGV[1]), tonumber(ARGV[2])
local depth = redis.call('XLEN', stream)
local out = {}
for i = 1, #ARGV - 2 do
  local seen, sender = KEYS[2 * i], KEYS[2 * i + 1]
  local prev = redis.call('GET', seen)
  if prev then
    out[i] = 'd' .. prev
  elseif depth >= max then
    out[i] = 'f'
  else
    local id = redis.call('XADD', stream, '*', 'job', ARGV[i + 2])
    redis.call('RPUSH', sender, id)
    redis.call('SET', seen, id, 'EX', ttl)
    depth = depth + 1
    out[i] = 'n' .. id
  end
end
return out
