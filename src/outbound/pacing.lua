-- Reserves sends on a topic's pace, a generic cell rate (GCRA) clock shared by every process.
-- KEYS[1]  the topic's rate key (String: the theoretical arrival time, microseconds on Redis's
--          clock; expires once it is in the past)
-- ARGV[1]  interval per segment, microseconds (1e6 / max_sends_per_second)
-- ARGV[2]  segments to reserve
-- Returns the wait before sending, microseconds, as a string.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(tat, now)
local cost = tonumber(ARGV[1]) * tonumber(ARGV[2])
redis.call('SET', KEYS[1], string.format('%.0f', start + cost), 'PX', math.floor((start + cost - now) / 1000) + 1000)
return string.format('%.0f', start - now)
