-- Stores a sent message (after status_fn.lua and sent_fn.lua) on its own: for the sends of an
-- attempt that then failed (a completed job stores its sends with its record, complete.lua).
-- KEYS[1]  the send marker (Hash)
-- KEYS[2]  the outbound message's delivery hash
-- ARGV[1]  Twilio's SID   ARGV[2]  status or ''   ARGV[3]  num_segments or ''   ARGV[4]  TTL (s)
-- ARGV[5]  the status's rank   ARGV[6]  now (ms)   ARGV[7]  the recipient   ARGV[8]  the job
-- Returns 1.
store_sent(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6],
  ARGV[7], ARGV[8])
return 1
