-- After a send (after status_fn.lua): stores Twilio's SID, status and segments on the send
-- marker and records the first delivery status with the recipient, in one call.
-- KEYS[1]  the send marker (Hash)
-- KEYS[2]  the outbound message's delivery hash
-- ARGV[1]  Twilio's SID   ARGV[2]  status or ''   ARGV[3]  num_segments or ''   ARGV[4]  TTL (s)
-- ARGV[5]  the status's rank   ARGV[6]  now (ms)   ARGV[7]  the recipient
-- Returns 1.
redis.call('HSET', KEYS[1], 'sid', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'status', ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'num_segments', ARGV[3]) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
-- The delivery hash exists from here on, whatever Twilio answered: status callbacks are taken
-- only for a SID that has one.
redis.call('HSET', KEYS[2], 'to', ARGV[7])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
if ARGV[2] ~= '' then record_status(KEYS[2], ARGV[2], ARGV[5], '', ARGV[6], ARGV[4]) end
return 1
