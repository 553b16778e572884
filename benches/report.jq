# The table scripts/bench prints, from the JSON it writes. Any saved run can be shown again:
#   jq -rf benches/report.jq target/bench/latest.json

def f(n; d): if n == null then "-" else (n * pow(10; d) | round / pow(10; d) | tostring) end;
def mem(m): "\(m.memory_idle.rss_mb) > \(m.memory_end.rss_mb)";
def row(cells): cells | map(tostring)
  | "\(.[0] | . + " " * (34 - length))\(.[1:] | map(" " * (12 - length) + .) | join(""))"
  | sub(" +$"; "");

"pyrowire bench \(.time) on \(.host) (\(.cores) cores), \(.seconds) s per load phase",
"The machine is shared and wrk runs on it too: read the figures as ratios, not absolutes.",
"",
row(["", "per s", "p50 ms", "p99 ms", "non-2xx", "RSS MB", "peak MB"]),
(.ingress | row(["ingress, --role web (no workers)", f(.rps; 0), f(.p50_ms; 2), f(.p99_ms; 2),
  .non_2xx, mem(.), .memory_end.peak_rss_mb])),
(.ingress_acks | select(. != null) | row(["ingress, min_replica_acks=1", f(.rps; 0), f(.p50_ms; 2),
  f(.p99_ms; 2), .non_2xx, mem(.), .memory_end.peak_rss_mb])),
(.ceiling | row(["ceiling (parse, 1 RPUSH)", f(.rps; 0), f(.p50_ms; 2), f(.p99_ms; 2), .non_2xx,
  mem(.), .memory_end.peak_rss_mb])),
(.outbound_api | select(. != null) | row(["outbound API, --role web: texts", f(.texts_per_s; 0),
  f(.p50_ms; 2), f(.p99_ms; 2), .non_2xx, mem(.), .memory_end.peak_rss_mb])),
(.end_to_end | row(["end to end, --role all: webhooks", "-", f(.burst.webhooks.p50_ms; 2),
  f(.burst.webhooks.p99_ms; 2), .burst.webhooks.non_2xx + .paced.webhooks.non_2xx, mem(.),
  .memory_end.peak_rss_mb])),
(.end_to_end.burst | row(["  burst, webhook to reply", f(.messages_per_s; 0), f(.p50_ms; 1),
  f(.p99_ms; 1), "", "", ""])),
(.end_to_end.paced | row(["  paced ~400/s, webhook to reply", f(.messages_per_s; 0),
  f(.p50_ms; 2), f(.p99_ms; 2), "", "", ""])),
(.outbound_send | select(. != null) | row(["outbound send, --role all: texts",
  f(.texts_per_s; 0), f(.p50_ms; 1), f(.p99_ms; 1), "", mem(.), .memory_end.peak_rss_mb])),
"",
"wrk: 64 connections, 2 threads, --latency, a unique MessageSid and sender per webhook",
(.ingress | "ingress: \(.requests) answered, \(.queued) queued, \(.socket_errors) socket errors,"
  + " \(.log_warn_error_lines) warn/error log lines"),
(.ingress_acks | select(. != null) | "ingress, min_replica_acks=1 (one replica on loopback):"
  + " \(.requests) answered, \(.queued) queued, \(.replica_queued) on the replica,"
  + " \(.socket_errors) socket errors, \(.log_warn_error_lines) warn/error log lines"),
(.end_to_end | "end to end (\(.workers) workers, echo handler): burst of \(.burst.webhooks.requests)"
  + " webhooks (plus any in flight when wrk stopped), \(.burst.replies) replies in"
  + " \(f(.burst.span_s; 2)) s from the first webhook, so its latency includes the queue;"
  + " paced: \(.paced.replies) replies on 4 connections; \(.log_warn_error_lines) warn/error"
  + " log lines"),
(.outbound_api | select(. != null) | "outbound API: \(.requests) requests of"
  + " \(.texts_per_request) texts on \(.connections) connections (\(f(.rps; 1)) requests/s; p50"
  + " and p99 above are a request's), \(.queued) texts queued, Redis \(f(.redis_used_mb; 0)) MB"
  + " (\(f(.redis_bytes_per_queued_text; 0)) bytes per queued text), \(.socket_errors) socket"
  + " errors, \(.log_warn_error_lines) warn/error log lines"),
(.outbound_send | select(. != null) | "outbound send (\(.workers) workers, unpaced):"
  + " \(.queued) texts in \(.requests) requests, accepted one after the other in"
  + " \(f(.accepting_s; 2)) s; \(.sent) at the sink \(f(.span_s; 2)) s after the first was"
  + " accepted; p50 and p99 from a request's posting to the sink, so they include the queue;"
  + " Redis kept \(f(.redis_bytes_per_sent_text; 0)) bytes per sent text (its status, send mark,"
  + " delivery and record, for record_ttl_s); \(.log_warn_error_lines) warn/error log lines"),
(.end_to_end.soak | select(. != null) | "soak: \(.webhooks.requests) webhooks in"
  + " \(f(.webhooks.duration_s; 0)) s, \(.replies) replies (p50 \(f(.p50_ms; 2)) ms, p99"
  + " \(f(.p99_ms; 2)) ms); RSS every second: first \(.rss_first_mb) MB, mean of the first third"
  + " \(f(.rss_mean_first_third_mb; 1)) MB, of the last third \(f(.rss_mean_last_third_mb; 1)) MB,"
  + " max \(.rss_max_mb) MB"),
(.end_to_end | "RSS during end to end, every second: first \(.rss_first_mb) MB, last"
  + " \(.rss_last_mb) MB, max \(.rss_max_mb) MB (\(.rss_every_second_mb | length) samples)"),
([.ingress, .ceiling] | map(.cpu_us_per_request) | "CPU per request, µs (user + system, from"
  + " /proc): ingress \(f(.[0].server; 1)) + Redis \(f(.[0].redis; 1)); ceiling"
  + " \(f(.[1].server; 1)) + Redis \(f(.[1].redis; 1))"),
(.ingress_acks | select(. != null) | .cpu_us_per_request | "CPU per request with"
  + " min_replica_acks=1, µs: ingress \(f(.server; 1)) + Redis \(f(.redis; 1)) + replica"
  + " \(f(.replica; 1))"),
([.outbound_api, .outbound_send] | select(.[0] != null) | map(.cpu_us_per_text)
  | "CPU per outbound text, µs: API (--role web) \(f(.[0].server; 1)) + Redis"
  + " \(f(.[0].redis; 1)); sending (--role all, first request to last text at the sink)"
  + " \(f(.[1].server; 1)) + Redis \(f(.[1].redis; 1))"),
([.outbound_send.cpu_us_per_text, .ingress.cpu_us_per_request] | select(.[0] != null)
  | "CPU per sent text / per ingress webhook: server \(f(.[0].server / .[1].server; 2))×, Redis"
  + " \(f(.[0].redis / .[1].redis; 2))×"),
(.outbound_send.redis_commands_per_text | select(. != null)
  | "Redis commands per sent text (its API request included; a script's commands counted"
  + " inside it too): \(map(.calls_per_text) | add | f(.; 1)) calls; costliest: "
  + (.[:6] | map("\(.command) \(.calls_per_text)× \(.us_per_text) µs") | join(", "))),
(.webhooks_beside_broadcasts | select(. != null) | "webhooks beside broadcasts (--role web,"
  + " 4 connections, 10 ms pauses): alone \(f(.alone.rps; 0))/s p50 \(f(.alone.p50_ms; 2)) ms"
  + " p99 \(f(.alone.p99_ms; 2)) ms; while \(.api.texts_per_request)-text requests were posted back"
  + " to back (\(f(.api.rps; 1))/s, p99 \(f(.api.p99_ms; 1)) ms) \(f(.busy.rps; 0))/s p50"
  + " \(f(.busy.p50_ms; 2)) ms p99 \(f(.busy.p99_ms; 2)) ms, max \(f(.busy.max_ms; 2)) ms"),
(.real_latency | select(. != null) | "real latency (the sink answers each create after"
  + " \(.sink_latency_ms) ms): " + (.runs | map("\(.workers) workers, twilio_max_connections"
  + " \(.twilio_max_connections): \(f(.texts_per_s; 0)) texts/s (cap \(f(.cap_texts_per_s; 0)),"
  + " at most \(.max_in_flight) at the sink at once)") | join("; "))),
(.startup_ms | "start-up, --role all, exec to /health 200: median \(f(.median_ms; 1)) ms"
  + " (\(.runs_ms | map(f(.; 1)) | join(", ")))"),
"",
"ratio ingress / ceiling (requests/s): \(f(.ratio_ingress_ceiling; 3))",
(.ratio_outbound | select(. != null) | "ratio outbound API texts/s / ceiling requests/s:"
  + " \(f(.api_texts_ceiling; 3)); CPU (server + Redis) per API text / per ingress webhook:"
  + " \(f(.api_cpu_ingress; 3))",
  "ratio outbound send texts/s / end-to-end burst messages/s: \(f(.send_burst; 3))"),
(.ratio_acks_plain | select(. != null) | "ratio ingress min_replica_acks=1 / plain: requests/s"
  + " \(f(.rps; 3)), p99 \(f(.p99; 3))")
