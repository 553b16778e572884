-- Takes or keeps the lease on a topic's events: one process at a time delivers them, so a
-- number's events go out in order. The holder renews it on every read; a holder that stops
-- renewing (it crashed, or lost Redis) loses it after the TTL, and another process takes it.
-- KEYS[1]  the lease (String: the holder's consumer name)
-- ARGV[1]  this process's consumer name   ARGV[2]  the TTL (ms)
-- Returns 1 when this process holds the lease, 0 when another one does.
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
