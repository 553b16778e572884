-- wrk script for scripts/bench: Twilio-like inbound SMS webhooks (POST, form-encoded, Body
-- "Hello there friend"), each with a unique MessageSid and its own sender number, so neither
-- de-duplication nor order per sender holds a request back. benches/webhook_timed.lua builds on it.
--   wrk -t2 -c64 -d10s --latency -s benches/webhook.lua http://127.0.0.1:PORT/queue/bench
-- done() prints one line, "BENCH_JSON {...}", that scripts/bench reads.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_usec; } bench_timeval;
  int gettimeofday(bench_timeval *tv, void *tz);
]]
local tv = ffi.new("bench_timeval")

function now_micros()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000000 + tonumber(tv.tv_usec)
end

local next_id = 0

-- Runs in the main Lua state, once per thread: give each thread its own number.
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

local fixed = "&To=%2B15005550006&AccountSid=AC0123456789abcdef0123456789abcdef"
  .. "&NumMedia=0&NumSegments=1&SmsStatus=received&ApiVersion=2010-04-01"
  .. "&FromCity=SAN+FRANCISCO&FromState=CA&FromZip=94105&FromCountry=US"
  .. "&ToCity=&ToState=CA&ToZip=&ToCountry=US"

-- The message text, form-encoded; webhook_timed.lua replaces it.
function body_text()
  return "Hello+there+friend"
end

local body_format, head
local counter = 0

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  -- MessageSid: "SM", a random tag per thread and run (unique across runs too), the thread's
  -- number and a counter, 32 hex digits in all; the sender +1 2TT NNNNNNN, TT the thread.
  math.randomseed(now_micros() + id * 7919)
  local sid = string.format("SM%08x%02x", math.random(0, 0x7fffffff), id) .. "%022x"
  body_format = string.format("From=%%%%2B1%03d", 200 + id) .. "%07d&MessageSid=" .. sid
    .. "&SmsSid=" .. sid .. "&SmsMessageSid=" .. sid .. "&Body=%s" .. fixed:gsub("%%", "%%%%")
  -- Every body has the same length, so the request line and headers (Content-Length included)
  -- are formatted once per thread: wrk shares the two cores with the server it measures.
  local sample = next_body()
  local whole = wrk.format(nil, nil, nil, sample)
  head = whole:sub(1, #whole - #sample)
  counter = 0
end

-- The next webhook's form body.
function next_body()
  counter = counter + 1
  return string.format(body_format, counter % 10000000, counter, counter, counter, body_text())
end

function request()
  return head .. next_body()
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_s":%.3f,"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,'
      .. '"max_ms":%.3f,"non_2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
