-- Puts a queued outbound text back until its send_window opens: out of its lane's stream and
-- its recipient's order, into the scheduled set, its hash `scheduled` again with the job, so
-- that due.lua queues it when the window opens. One call: the text is queued or scheduled,
-- never both, never neither.
-- KEYS[1]  its lane's stream   KEYS[2]  its recipient's list of unfinished jobs in that lane
-- KEYS[3]  its hash (`out:{id}`)   KEYS[4]  the topic's scheduled set
-- ARGV[1]  its stream entry id   ARGV[2]  the consumer group   ARGV[3]  its member (`{id}|{to}`)
-- ARGV[4]  when the window opens (ms)   ARGV[5]  the job's JSON   ARGV[6]  record_ttl_s
-- Returns 1.
redis.call('XACK', KEYS[1], ARGV[2], ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
redis.call('LREM', KEYS[2], 1, ARGV[1])
redis.call('ZADD', KEYS[4], tonumber(ARGV[4]), ARGV[3])
redis.call('HSET', KEYS[3], 'status', 'scheduled', 'send_at', ARGV[4], 'job', ARGV[5])
redis.call('HDEL', KEYS[3], 'entry')
local now = redis.call('TIME')[1] * 1000
local ttl = tonumber(ARGV[6]) + math.ceil(math.max(0, tonumber(ARGV[4]) - now) / 1000)
redis.call('EXPIRE', KEYS[3], ttl)
return 1
