-- Cancels the texts of a broadcast that are not sent yet, a chunk at a time: a scheduled one is
-- taken out of the scheduled set; a queued one whose send has no Twilio SID yet gets `cancelled`
-- on its send's marker (and as its status), so the claim of its send (claim_send.lua, which
-- reads the marker anyway) sends nothing; if its send was claimed already: a worker waiting for its turn then sends nothing, and one
-- that died before its POST does not send it after a restart (unless Twilio's list shows it went
-- out); a POST already on its way still goes. A text whose SID is stored, or that finished, is
-- left as it is (its record tells its status).
-- KEYS[1]  the topic's scheduled set   KEYS[2]  the broadcast's hash
-- then per text, two keys: its hash (`out:{id}`) and its send's marker
-- ARGV[1]  now (ms)   ARGV[2]  the markers' TTL, seconds
-- then per text: its id
-- Returns how many texts this call cancelled.
local cancelled, ttl = 0, tonumber(ARGV[2])
for i = 1, (#KEYS - 2) / 2 do
  local hash, mark, id = KEYS[1 + i * 2], KEYS[2 + i * 2], ARGV[2 + i]
  local status = redis.call('HGET', hash, 'status')
  if status == 'scheduled' then
    local to = redis.call('HGET', hash, 'to')
    redis.call('ZREM', KEYS[1], id .. '|' .. to)
    redis.call('HDEL', hash, 'job')
    redis.call('HSET', hash, 'status', 'cancelled')
    cancelled = cancelled + 1
  elseif status == 'queued' and redis.call('HEXISTS', mark, 'sid') == 0 then
    if redis.call('EXISTS', mark) == 0 then
      redis.call('HSET', mark, 'cancelled', '1')
      redis.call('EXPIRE', mark, ttl)
    else
      redis.call('HSET', mark, 'cancelled', '1')
    end
    redis.call('HSET', hash, 'status', 'cancelled')
    cancelled = cancelled + 1
  end
end
redis.call('HSETNX', KEYS[2], 'cancelled_at', ARGV[1])
return cancelled
