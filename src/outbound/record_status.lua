
-- Records a delivery status reported by a status callback (after status_fn.lua).
-- KEYS[1]  the outbound message's delivery hash
-- ARGV[1]  status   ARGV[2]  its rank   ARGV[3]  error code or ''   ARGV[4]  now (ms)
-- ARGV[5]  TTL (s)
-- Returns 1 when the status moved forward, 0 when it was older than or equal to the stored one.
return record_status(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
