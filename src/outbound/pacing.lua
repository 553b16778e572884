-- Reserves sends on a topic's pace (after pace_fn.lua), for a send whose claim did not: one
-- resumed after Twilio's list showed an interrupted send had not gone out.
-- KEYS[1]  the topic's rate key
-- ARGV[1]  interval per segment, µs (1e6 / max_sends_per_second)
-- ARGV[2]  segments to reserve
-- Returns the wait before sending, µs, as a string.
return string.format('%.0f', reserve_pace(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])))
