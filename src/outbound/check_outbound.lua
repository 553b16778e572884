-- Checks a whole request of outbound texts before any of it is written in chunks (after
-- plan_fn.lua; the same keys and arguments as enqueue_outbound.lua, reading only): refuses it
-- when a text repeats an idempotency key with another message or the queue has no room for the
-- texts due now.
-- Returns 'ok', or the error reply of plan().
local _, _, _, refused = plan(true)
if refused then return refused end
return 'ok'
