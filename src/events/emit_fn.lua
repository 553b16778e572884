-- The function the scripts that record a change the application hears of open with
-- (opt_out.lua, record_status.lua, the dead letter's): appends one event to the topic's event
-- stream, in the same step as the change, so an event exists exactly when its change does. The
-- dispatcher delivers and deletes it.
-- stream  the topic's event stream   stats  the topic's totals (Hash; `events_dropped` counts the
-- events dropped)   cap  most events the stream holds (past it, a new event is dropped)
-- then the event: id (its webhook-id; '' for no event: the topic has no events_url), type, at
-- (ms), number, job, Twilio's SID, status, error code, error ('' for none)
-- Returns 1 when the event was added, 0 when there was none to add, -1 when the stream was full.
local function emit_event(stream, stats, cap, id, kind, at, number, job, sid, status, code, err)
  if id == '' then return 0 end
  if redis.call('XLEN', stream) >= tonumber(cap) then
    redis.call('HINCRBY', stats, 'events_dropped', 1)
    return -1
  end
  redis.call('XADD', stream, '*', 'id', id, 'type', kind, 'at', at, 'number', number, 'job', job,
    'twilio_sid', sid, 'status', status, 'error_code', code, 'error', err)
  return 1
end
