-- Records a delivery status reported by a status callback (after status_fn.lua). A callback can
-- overtake the create's answer, or come while a crashed send waits for its lookup, so a signed
-- one (from Twilio) is kept for a SID not stored yet; with signatures off, where anyone can post
-- one, a callback for a SID pyrowire has not stored stores nothing.
-- KEYS[1]  the outbound message's delivery hash
-- ARGV[1]  status   ARGV[2]  its rank   ARGV[3]  error code or ''   ARGV[4]  now (ms)
-- ARGV[5]  TTL (s)  ARGV[6]  '1' to take only a SID pyrowire stored, '0' to take any
-- Returns {moved, to}: moved is 1 when the status moved forward, 0 when it was older than or
-- equal to the stored one, -1 when the SID is not one pyrowire stored and ARGV[6] is '1'
-- (nothing stored); to is the recipient stored with the send ('' when none is: a send of an
-- earlier release, or one not stored yet).
if ARGV[6] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then return {-1, ''} end
local moved = record_status(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
return {moved, redis.call('HGET', KEYS[1], 'to') or ''}
