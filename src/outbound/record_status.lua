-- Records a delivery status reported by a status callback (after status_fn.lua). A callback can
-- overtake the create's answer, or come while a crashed send waits for its lookup, so a signed
-- one (from Twilio) is kept for a SID not stored yet; with signatures off, where anyone can post
-- one, a callback for a SID pyrowire has not stored stores nothing.
-- KEYS[1]  the outbound message's delivery hash   KEYS[2]  the topic's event stream
-- KEYS[3]  the topic's totals (Hash)
-- ARGV[1]  status   ARGV[2]  its rank   ARGV[3]  error code or ''   ARGV[4]  now (ms)
-- ARGV[5]  TTL (s)  ARGV[6]  '1' to take only a SID pyrowire stored, '0' to take any
-- ARGV[7..16]  the event of a final status, as emit_event takes it after its keys (cap, id,
--          type, at, number, job, SID, status, error code, error; id '' for none), added only
--          when the status moved;
--          its job is the one stored with the send, its number too when one was stored (else
--          the one given: the callback's `To`)
-- Returns {moved, to, event}: moved is 1 when the status moved forward, 0 when it was older
-- than or equal to the stored one, -1 when the SID is not one pyrowire stored and ARGV[6] is '1'
-- (nothing stored); to is the recipient stored with the send ('' when none is: a send of an
-- earlier release, or one not stored yet); event is emit_event's answer.
if ARGV[6] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then return {-1, '', 0} end
local moved = record_status(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
local stored = redis.call('HMGET', KEYS[1], 'to', 'job')
local to, job = stored[1] or '', stored[2] or ''
local event = 0
if moved == 1 then
  local number = to
  if number == '' then number = ARGV[11] end
  event = emit_event(KEYS[2], KEYS[3], ARGV[7], ARGV[8], ARGV[9], ARGV[10], number, job,
    ARGV[13], ARGV[14], ARGV[15], ARGV[16])
end
return {moved, to, event}
