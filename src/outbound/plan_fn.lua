-- The function the outbound scripts open with (enqueue_outbound.lua, check_outbound.lua): what
-- each text of a batch will be, reading only: a repeated idempotency key (in Redis, or earlier
-- in this batch; with another message, a refusal), an opted-out recipient, a future time; and
-- whether each lane's queue has room for its texts due now.
-- KEYS[1]  the topic's stream   KEYS[2]  the topic's opt-out hash
-- KEYS[3]  the topic's scheduled set   KEYS[4]  the topic's bulk stream
-- KEYS[5]  the broadcast's hash   KEYS[6]  the broadcast's list of texts (KEYS[1] twice when the
--          texts are in no broadcast)
-- then per text, three keys: its hash (`out:{id}`), its recipient's list of unfinished jobs in
--          its lane, and its idempotency key's string (its own hash again when it has none)
-- ARGV[1]  dedup_ttl_s   ARGV[2]  max_queue_depth   ARGV[3]  now (ms)   ARGV[4]  record_ttl_s
-- ARGV[5]  max_bulk_depth   ARGV[6]  the broadcast's id ('' for none)
-- then per text, seven values: id, to, the job's JSON, send_at in ms (0: now), idempotency key
--          ('' when none), the message's fingerprint, its lane ('bulk', or '' for interactive)
-- An idempotency key's string holds `{id} {fingerprint}` (an earlier release stored the id
-- alone: a repeat of such a key matches whatever its message).
-- Returns first (per text: the id first queued with its key, or nil), opted (per text) and the
-- count of texts due now; or an error reply (`IDEMCONFLICT {index}`, 0-based, or `QUEUEFULL`).
local count = (#KEYS - 6) / 3

local function text(i)
  local k, a = 6 + (i - 1) * 3, 6 + (i - 1) * 7
  return KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3],
    tonumber(ARGV[a + 4]), ARGV[a + 5], ARGV[a + 6], ARGV[a + 7] == 'bulk'
end

-- Whether the queues have room for `due_now` interactive and `due_bulk` bulk texts due now; the
-- refusal when they have not.
local function no_room(due_now, due_bulk)
  if due_now > 0 and redis.call('XLEN', KEYS[1]) + due_now > tonumber(ARGV[2]) then
    return redis.error_reply('QUEUEFULL the queue has no room for ' .. due_now .. ' texts')
  end
  if due_bulk > 0 and redis.call('XLEN', KEYS[4]) + due_bulk > tonumber(ARGV[5]) then
    return redis.error_reply('QUEUEFULL the bulk queue has no room for ' .. due_bulk .. ' texts')
  end
  return nil
end

-- The plan. `checking` (check_outbound.lua, which writes nothing and needs no text's opt-out):
-- the recipients' opt-outs are read only when the room is in doubt counting every text due now,
-- so a request that fits either way costs no read per text for them.
local function plan(checking)
  local now = tonumber(ARGV[3])
  local first, opted, in_batch = {}, {}, {}
  local due_now, due_bulk = 0, 0
  -- Counts text i as due now unless it repeats a key, waits for its time or (its opt-out read
  -- first when `read`) opted out.
  local function count_due(i, read)
    if first[i] then return end
    local _, _, _, _, to, _, send_at, _, _, bulk = text(i)
    if read then opted[i] = redis.call('HEXISTS', KEYS[2], to) == 1 end
    if not opted[i] and send_at <= now then
      if bulk then due_bulk = due_bulk + 1 else due_now = due_now + 1 end
    end
  end
  for i = 1, count do
    local _, _, idem, id, _, _, _, key, print = text(i)
    if key ~= '' then
      local seen = in_batch[key] or redis.call('GET', idem)
      if seen then
        local first_id, first_print = string.match(seen, '^(%S+) (%S+)$')
        if first_print and first_print ~= print then
          return nil, nil, nil, redis.error_reply('IDEMCONFLICT ' .. (i - 1))
        end
        first[i] = first_id or seen
      else
        in_batch[key] = id .. ' ' .. print
      end
    end
    count_due(i, not checking)
  end
  local refused = no_room(due_now, due_bulk)
  if refused and checking then
    due_now, due_bulk = 0, 0
    for i = 1, count do count_due(i, true) end
    refused = no_room(due_now, due_bulk)
  end
  if refused then return nil, nil, nil, refused end
  return first, opted, due_now + due_bulk, nil
end
