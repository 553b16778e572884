-- The function the scripts that store a sent message open with (after status_fn.lua):
-- store_sent.lua, and the recorder's completion (complete.lua). Stores Twilio's SID, status and
-- segments on the send marker and the recipient, the job it was sent for (an inbound
-- MessageSid, an outbound id, a reply-timeout id: named by the events of its delivery) and the
-- first delivery status on the delivery hash.
-- The delivery hash exists from here on, whatever Twilio answered: with signatures off, status
-- callbacks are taken only for a SID that has one.
-- The marker keeps the TTL it was given when it was marked (every path that marks one gives it
-- record_ttl_s), so it is not set again here: it lives record_ttl_s from the claim, not the send.
local function store_sent(mark, delivery, sid, status, segments, ttl, rank, now, to, job)
  local fields = {'sid', sid}
  if status ~= '' then fields[#fields + 1] = 'status'; fields[#fields + 1] = status end
  if segments ~= '' then fields[#fields + 1] = 'num_segments'; fields[#fields + 1] = segments end
  redis.call('HSET', mark, unpack(fields))
  if status ~= '' and not redis.call('HGET', delivery, 'rank') then
    -- The first status of a new delivery hash: written at once.
    redis.call('HSET', delivery, 'to', to, 'job', job, 'status', status, 'rank', rank,
      'updated_at', now, 'history', status)
    redis.call('EXPIRE', delivery, ttl)
    return
  end
  redis.call('HSET', delivery, 'to', to, 'job', job)
  redis.call('EXPIRE', delivery, ttl)
  if status ~= '' then record_status(delivery, status, rank, '', now, ttl) end
end
