-- The function the pacing scripts open with (pacing.lua, claim_send.lua): reserves `segments`
-- sends on a topic's pace, a generic cell rate (GCRA) clock shared by every process, on Redis's
-- own clock, and answers the wait before sending (µs).
-- key       the topic's rate key (String: the theoretical arrival time, µs; expires once past)
-- interval  µs per segment (1e6 / max_sends_per_second)
local function reserve_pace(key, interval, segments)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local tat = tonumber(redis.call('GET', key) or '0')
  local start = math.max(tat, now)
  local cost = interval * segments
  redis.call('SET', key, string.format('%.0f', start + cost), 'PX',
    math.floor((start + cost - now) / 1000) + 1000)
  return start - now
end
