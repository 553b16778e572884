-- Completes a job in one call (after status_fn.lua, sent_fn.lua and session_fn.lua): its record,
-- its acknowledgement, its sends' Twilio SIDs, its sender's session and the counts, all at once,
-- so a job leaves the queue only together with its outcome and its sends' SIDs.
-- KEYS[1]  the record (String)                KEYS[2]  the topic's stream
-- KEYS[3]  the sender's list of unfinished jobs KEYS[4]  the job's attempt list
-- KEYS[5]  the topic's totals (Hash)           KEYS[6]  this minute's counts (Hash)
-- KEYS[7]  the topic's completed list          KEYS[8]  the sender's session
-- KEYS[9]  the topic's live sessions           KEYS[10] the topic's opt-out hash
-- then per send to store, two keys: its marker and its delivery hash
-- ARGV[1]  the record's JSON      ARGV[2]  record_ttl_s     ARGV[3]  the stream entry id
-- ARGV[4]  the consumer group     ARGV[5]  the MessageSid   ARGV[6]  recent_records
-- ARGV[7]  the minute counts' TTL ARGV[8]  '1' when the job has an attempt list to delete
-- ARGV[9]  the session's change: '' (none), 'keep', 'replace' or 'end'
-- ARGV[10] its JSON (replace)     ARGV[11] session_ttl_s    ARGV[12] the sender's number
-- ARGV[13] now, ms since the epoch
-- then per send, five values: Twilio's SID, status, num_segments, the status's rank, recipient
-- Returns 1.
local ttl, id, now = tonumber(ARGV[2]), ARGV[3], ARGV[13]
redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
redis.call('XACK', KEYS[2], ARGV[4], id)
redis.call('XDEL', KEYS[2], id)
redis.call('LREM', KEYS[3], 1, id)
if ARGV[8] == '1' then redis.call('DEL', KEYS[4]) end
redis.call('HINCRBY', KEYS[5], 'completed', 1)
redis.call('HINCRBY', KEYS[6], 'completed', 1)
redis.call('EXPIRE', KEYS[6], tonumber(ARGV[7]))
redis.call('LPUSH', KEYS[7], ARGV[5])
redis.call('LTRIM', KEYS[7], 0, tonumber(ARGV[6]) - 1)
if ARGV[9] ~= '' then
  save_session(KEYS[8], KEYS[9], KEYS[10], ARGV[12], ARGV[9], ARGV[10], tonumber(ARGV[11]),
    tonumber(now))
end
for i = 0, (#KEYS - 10) / 2 - 1 do
  local k, a = 11 + i * 2, 14 + i * 5
  store_sent(KEYS[k], KEYS[k + 1], ARGV[a], ARGV[a + 1], ARGV[a + 2], ttl, ARGV[a + 3], now,
    ARGV[a + 4])
end
return 1
