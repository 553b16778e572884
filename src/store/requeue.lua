-- Puts a dead letter's job back on its topic's queue, atomically with its removal from the dead
-- letters; refused while the queue holds max_queue_depth jobs or more (counted by XLEN, as the
-- enqueue script does).
-- KEYS[1]  the topic's dead-letter set (Sorted set of MessageSids by time)
-- KEYS[2]  the dead letter (String, JSON)
-- KEYS[3]  the topic's queue stream
-- KEYS[4]  the sender's list
-- KEYS[5]  the job's attempt list (cleared: the job starts afresh)
-- ARGV[1]  the MessageSid
-- ARGV[2]  the job (JSON)
-- ARGV[3]  max_queue_depth
-- Answers 'n<id>' (re-queued as stream entry id), 'f' (the queue is full: nothing changed) or
-- nil (no such dead letter).
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
if redis.call('XLEN', KEYS[3]) >= tonumber(ARGV[3]) then return 'f' end
local id = redis.call('XADD', KEYS[3], '*', 'job', ARGV[2])
redis.call('RPUSH', KEYS[4], id)
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2], KEYS[5])
return 'n' .. id
