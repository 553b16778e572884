-- The functions the pacing scripts open with (pacing.lua, claim_send.lua): reserves `segments`
-- sends on a topic's pace, a generic cell rate (GCRA) clock shared by every process, on Redis's
-- own clock, and answers the wait before sending (µs); `pace_busy` says how long until the
-- pace is free, for a bulk send that takes it only then.
-- key       the topic's rate key (String: the theoretical arrival time, µs; expires once past)
-- interval  µs per segment (1e6 / max_sends_per_second)
local function pace_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- How long until the pace is free (µs; 0: free now), reserving nothing.
local function pace_busy(key)
  return math.max(0, tonumber(redis.call('GET', key) or '0') - pace_now())
end

local function reserve_pace(key, interval, segments)
  local now = pace_now()
  local tat = tonumber(redis.call('GET', key) or '0')
  local start = math.max(tat, now)
  local cost = interval * segments
  redis.call('SET', key, string.format('%.0f', start + cost), 'PX',
    math.floor((start + cost - now) / 1000) + 1000)
  return start - now
end
