-- wrk script for the end-to-end phase of scripts/bench: the webhooks of benches/webhook.lua with
-- the send time in the body, a cap on their number and an optional pause between requests.
--   wrk ... -s benches/webhook_timed.lua URL -- LIMIT PAUSE_MS
--     LIMIT     each wrk thread stops after this many answers (0: no cap); wrk itself still
--               runs for its whole -d, so read throughput from the Twilio sink, not from wrk
--     PAUSE_MS  pause before each request on a connection (0: none): a light, steady load shows
--               the latency of the pipeline itself rather than of a queue
-- Body "sent bravo hotel juliet ...": the send time in unix microseconds, one NATO word per digit
-- (alpha = 0), which the echo handler's reply carries to the sink (`sent_micros` in
-- benches/ceiling.rs reads it back). It is spelled out because the profanity validator reads
-- digits as letters, so a bare number ("t1764355200") is refused now and then, and so are number
-- words ("six two" reads as "sext"); the NATO words passed it in 300,000 random times.

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "webhook.lua")

local digit_words = { [0] = "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
  "hotel", "india", "juliet" }

function body_text()
  local words = { "sent" }
  for digit in string.format("%.0f", now_micros()):gmatch("%d") do
    words[#words + 1] = digit_words[tonumber(digit)]
  end
  return table.concat(words, "+")
end

local limit, pause_ms, answered = 0, 0, 0
local base_init = init

function init(args)
  base_init(args)
  limit = tonumber(args[1]) or 0
  pause_ms = tonumber(args[2]) or 0
end

-- The body's length varies with the time, so each request is formatted whole.
function request()
  return wrk.format(nil, nil, nil, next_body())
end

function response()
  answered = answered + 1
  if limit > 0 and answered >= limit then
    wrk.thread:stop()
  end
end

function delay()
  return pause_ms
end
