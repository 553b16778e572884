-- The function both delivery scripts (record_status.lua, store_sent.lua) open with: moves a
-- delivery hash forward to `status`, never back. A status whose rank is lower than or equal to
-- the stored one changes nothing (callbacks arrive out of order; of two final statuses, the
-- first wins). The hash holds status, rank, updated_at (ms), history (comma-separated) and
-- error_code when Twilio gave one.
local function record_status(key, status, rank, code, now, ttl)
  local current = tonumber(redis.call('HGET', key, 'rank') or '-1')
  if tonumber(rank) <= current then return 0 end
  redis.call('HSET', key, 'status', status, 'rank', rank, 'updated_at', now)
  if code ~= '' then redis.call('HSET', key, 'error_code', code) end
  local history = redis.call('HGET', key, 'history')
  if history then history = history .. ',' .. status else history = status end
  redis.call('HSET', key, 'history', history)
  redis.call('EXPIRE', key, tonumber(ttl))
  return 1
end
