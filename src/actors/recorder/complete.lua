-- Completes a batch of jobs of one topic in one call (after status_fn.lua, sent_fn.lua and
-- session_fn.lua): each job's record, its acknowledgement, its sends' Twilio SIDs and its
-- sender's session, and the topic's counts, so a job leaves the queue only together with its
-- outcome and its sends' SIDs.
-- KEYS[1]  the topic's stream           KEYS[2]  the topic's totals (Hash)
-- KEYS[3]  this minute's counts (Hash)  KEYS[4]  the topic's completed list
-- KEYS[5]  the topic's live sessions    KEYS[6]  the topic's opt-out hash
-- KEYS[7]  the numbers waited for (Sorted set)   KEYS[8]  the topic's bulk stream
-- then per job: its record (String), its sender's list of unfinished jobs (in its lane), its attempt list, its
-- sender's session, the event to queue when the wait for its sender ends, and per send to store
-- two keys: its marker and its delivery hash
-- ARGV[1]  record_ttl_s   ARGV[2]  the consumer group   ARGV[3]  recent_records
-- ARGV[4]  the minute counts' TTL   ARGV[5]  now, ms since the epoch   ARGV[6]  the jobs
-- then per job: its sends to store (n), the record's JSON, the stream entry id, the MessageSid,
-- '1' when the job has an attempt list to delete, the session's change ('' for none, 'keep',
-- 'replace' or 'end'), its JSON (replace), session_ttl_s, the sender's number, the wait ('' to
-- leave it, 'clear', or 'set'), when it ends (ms), the event's job (set), its lane ('bulk', or
-- '' for the interactive stream), and per send five
-- values: Twilio's SID, status, num_segments, the status's rank, the recipient
-- Returns the number of jobs completed.
local ttl, group, now = tonumber(ARGV[1]), ARGV[2], ARGV[5]
local jobs = tonumber(ARGV[6])
local k, a = 9, 7
local ids, bulk_ids, sids = {}, {}, {}
for _ = 1, jobs do
  local sends = tonumber(ARGV[a])
  local id, sid, mode = ARGV[a + 2], ARGV[a + 3], ARGV[a + 5]
  redis.call('SET', KEYS[k], ARGV[a + 1], 'EX', ttl)
  redis.call('LREM', KEYS[k + 1], 1, id)
  if ARGV[a + 4] == '1' then redis.call('DEL', KEYS[k + 2]) end
  if mode ~= '' then
    save_session(KEYS[k + 3], KEYS[5], KEYS[6], ARGV[a + 8], mode, ARGV[a + 6],
      tonumber(ARGV[a + 7]), tonumber(now))
  end
  local wait, bulk = ARGV[a + 9], ARGV[a + 12] == 'bulk'
  if wait == 'clear' then
    -- A wait's event is set only with its number's entry in the set and deleted with it (here,
    -- when the wait ends, and by an opt-out), so a number not in the set has none to delete.
    if redis.call('ZREM', KEYS[7], ARGV[a + 8]) == 1 then redis.call('DEL', KEYS[k + 4]) end
  elseif wait == 'set' and redis.call('HEXISTS', KEYS[6], ARGV[a + 8]) == 0 then
    -- The event outlives the wait by a day, so a process down at its time still finds it.
    local due = tonumber(ARGV[a + 10])
    redis.call('ZADD', KEYS[7], due, ARGV[a + 8])
    redis.call('SET', KEYS[k + 4], ARGV[a + 11], 'PXAT', due + 86400000)
  end
  k, a = k + 5, a + 13
  for _ = 1, sends do
    store_sent(KEYS[k], KEYS[k + 1], ARGV[a], ARGV[a + 1], ARGV[a + 2], ttl, ARGV[a + 3], now,
      ARGV[a + 4], sid)
    k, a = k + 2, a + 5
  end
  if bulk then bulk_ids[#bulk_ids + 1] = id else ids[#ids + 1] = id end
  sids[#sids + 1] = sid
end
if #ids > 0 then
  redis.call('XACK', KEYS[1], group, unpack(ids))
  redis.call('XDEL', KEYS[1], unpack(ids))
end
if #bulk_ids > 0 then
  redis.call('XACK', KEYS[8], group, unpack(bulk_ids))
  redis.call('XDEL', KEYS[8], unpack(bulk_ids))
end
redis.call('HINCRBY', KEYS[2], 'completed', jobs)
redis.call('HINCRBY', KEYS[3], 'completed', jobs)
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[4]))
redis.call('LPUSH', KEYS[4], unpack(sids))
redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[3]) - 1)
return jobs
