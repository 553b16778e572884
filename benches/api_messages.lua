-- wrk script for the outbound API phase of scripts/bench: each request queues a batch of texts
-- with POST /api/topics/{topic}/messages, every text to its own recipient (+1 3TT NNNNNNN, TT
-- the wrk thread, N a counter), so each text starts its recipient's list as a campaign's would,
-- rather than all of them growing the same few lists. No idempotency keys (they are optional).
--   wrk -t2 -c4 -d10s --latency -s benches/api_messages.lua \
--     http://127.0.0.1:PORT/api/topics/bench/messages -- TOKEN [TEXTS]
--     TOKEN  the profile's api_token
--     TEXTS  texts per request (1000, the API's maximum)
-- done() prints one line, "BENCH_JSON {...}" (per request, as benches/webhook.lua's), that
-- scripts/bench reads.

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "webhook.lua")

local text = "Bench: your appointment is tomorrow at 10:00. Reply STOP to opt out."
local texts, counter, head = 1000, 0, nil

-- The next request's JSON body; every body has the same length.
local function next_batch()
  local items = {}
  for i = 1, texts do
    counter = counter + 1
    items[i] = string.format('{"to":"+1%03d%07d","body":"%s"}', 300 + id, counter % 10000000, text)
  end
  return '{"messages":[' .. table.concat(items, ",") .. "]}"
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. (args[1] or "")
  texts = tonumber(args[2]) or 1000
  -- The request line and headers (Content-Length included) are formatted once per thread.
  local sample = next_batch()
  local whole = wrk.format(nil, nil, nil, sample)
  head = whole:sub(1, #whole - #sample)
end

function request()
  return head .. next_batch()
end
