-- Queues a batch of outbound texts: each one now (into the topic's stream, in its recipient's
-- order), at its time (into the scheduled set), or not at all (the recipient opted out, or its
-- idempotency key was seen). Either the whole batch is taken or, when the queue has no room
-- for the texts due now or a text repeats an idempotency key with another message, nothing is
-- written.
-- KEYS[1]  the topic's stream
-- KEYS[2]  the topic's opt-out hash
-- KEYS[3]  the topic's scheduled set (member `{id}|{to}`, score: due, ms)
-- then per text, three keys: its hash (`out:{id}`), its recipient's list of unfinished jobs,
--          and its idempotency key's string (its own hash again when it has none)
-- ARGV[1]  dedup_ttl_s (how long an idempotency key is kept)
-- ARGV[2]  max_queue_depth
-- ARGV[3]  now, ms since the epoch
-- ARGV[4]  record_ttl_s (how long a text's hash is kept after its time)
-- then per text, six values: id, to, the job's JSON, send_at in ms (0: now), idempotency key
--          ('' when none), the message's fingerprint (hex: what a repeat of the key must match)
-- An idempotency key's string holds `{id} {fingerprint}` (an earlier release stored the id
-- alone: a repeat of such a key matches whatever its message).
-- Returns per text: {id, status}, status `queued`, `scheduled`, `opted_out` or `duplicate`
-- (then id is the first text's); or the error `QUEUEFULL`, or `IDEMCONFLICT {index}` (0-based:
-- the first text whose key was used with another message), and nothing written.
local ttl, max_depth, now, keep = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local count = (#KEYS - 3) / 3

local function text(i)
  local k, a = 3 + (i - 1) * 3, 4 + (i - 1) * 6
  return KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3],
    tonumber(ARGV[a + 4]), ARGV[a + 5], ARGV[a + 6]
end

-- First what each text will be, reading only: a repeated idempotency key (in Redis, or earlier in
-- this batch), an opted-out recipient, a future time.
local first, opted, due_now, in_batch = {}, {}, 0, {}
for i = 1, count do
  local _, _, idem, id, to, _, send_at, key, print = text(i)
  if key ~= '' then
    local seen = in_batch[key] or redis.call('GET', idem)
    if seen then
      local first_id, first_print = string.match(seen, '^(%S+) (%S+)$')
      if first_print and first_print ~= print then
        return redis.error_reply('IDEMCONFLICT ' .. (i - 1))
      end
      first[i] = first_id or seen
    else
      in_batch[key] = id .. ' ' .. print
    end
  end
  if not first[i] then
    opted[i] = redis.call('HEXISTS', KEYS[2], to) == 1
    if not opted[i] and send_at <= now then
      due_now = due_now + 1
    end
  end
end
if due_now > 0 and redis.call('XLEN', KEYS[1]) + due_now > max_depth then
  return redis.error_reply('QUEUEFULL the queue has no room for ' .. due_now .. ' texts')
end

local out = {}
for i = 1, count do
  local hash, sender, idem, id, to, job, send_at, key, print = text(i)
  if first[i] then
    out[#out + 1] = first[i]
    out[#out + 1] = 'duplicate'
  else
    if key ~= '' then
      redis.call('SET', idem, id .. ' ' .. print, 'EX', ttl)
    end
    local status, ttl_s
    if opted[i] then
      status, ttl_s = 'opted_out', keep
      redis.call('HSET', hash, 'to', to, 'created_at', now, 'idempotency_key', key, 'status', status)
    elseif send_at > now then
      status, ttl_s = 'scheduled', keep + math.ceil((send_at - now) / 1000)
      redis.call('ZADD', KEYS[3], send_at, id .. '|' .. to)
      redis.call('HSET', hash, 'to', to, 'created_at', now, 'idempotency_key', key, 'status', status,
        'send_at', send_at, 'job', job)
    else
      status, ttl_s = 'queued', keep
      local entry = redis.call('XADD', KEYS[1], '*', 'job', job)
      redis.call('RPUSH', sender, entry)
      redis.call('HSET', hash, 'to', to, 'created_at', now, 'idempotency_key', key, 'status', status,
        'send_at', now, 'entry', entry)
    end
    redis.call('EXPIRE', hash, ttl_s)
    out[#out + 1] = id
    out[#out + 1] = status
  end
end
return out
