-- Queues a batch of outbound texts (after plan_fn.lua, which lists its KEYS and ARGV): each one
-- now (into its lane's stream, in its recipient's order in that lane), at its time (into the scheduled
-- set), or not at all (the recipient opted out, or its idempotency key was seen). Either the whole batch is taken or, when the queue has no room
-- for the texts due now or a text repeats an idempotency key with another message, nothing is
-- written.
-- A text of a broadcast (ARGV[6]) is listed in it, once, when first queued.
-- Returns per text: {id, status}, status `queued`, `scheduled`, `opted_out` or `duplicate`
-- (then id is the first text's); or the error `QUEUEFULL`, or `IDEMCONFLICT {index}` (0-based:
-- the first text whose key was used with another message), and nothing written.
local ttl, now, keep = tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4])
local first, opted, _, refused = plan()
if refused then return refused end

local broadcast, added, longest = ARGV[6], 0, 0
local out = {}
for i = 1, count do
  local hash, sender, idem, id, to, job, send_at, key, print, bulk = text(i)
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
      local entry = redis.call('XADD', bulk and KEYS[4] or KEYS[1], '*', 'job', job)
      redis.call('RPUSH', sender, entry)
      redis.call('HSET', hash, 'to', to, 'created_at', now, 'idempotency_key', key, 'status', status,
        'send_at', now, 'entry', entry)
    end
    if bulk then redis.call('HSET', hash, 'lane', 'bulk') end
    if broadcast ~= '' then
      redis.call('HSET', hash, 'broadcast', broadcast)
      redis.call('RPUSH', KEYS[6], id)
      added = added + 1
    end
    redis.call('EXPIRE', hash, ttl_s)
    longest = math.max(longest, ttl_s)
    out[#out + 1] = id
    out[#out + 1] = status
  end
end
if broadcast ~= '' then
  redis.call('HSETNX', KEYS[5], 'created_at', now)
  redis.call('HINCRBY', KEYS[5], 'total', added)
  -- The broadcast is kept as long as its longest-kept text.
  if redis.call('TTL', KEYS[5]) < longest then
    redis.call('EXPIRE', KEYS[5], longest)
    redis.call('EXPIRE', KEYS[6], longest)
  end
end
return out
