# The paired comparison scripts/bench prints with BENCH_BASELINE (working tree / baseline, one
# ratio per round, and their median). Shown again from a saved run:
#   jq -rf benches/paired.jq <(jq .paired target/bench/latest.json)

def f(n; d): if n == null then "-" else (n * pow(10; d) | round / pow(10; d) | tostring) end;
def line(name; s): "  \(name + " " * (40 - (name | length)))median \(f(s.median; 3))"
  + "  (rounds: \(s.ratios | map(f(.; 3)) | join(", ")))";

"",
"paired: working tree / baseline \(.baseline) (\(.sha)), \(.rounds) rounds, ABBA order, each run on a fresh Redis",
def ran(phase): (.phases // ["ingress", "burst", "send"]) | index(phase) != null;
def skipped(what; phase): "  \(what): not run (BENCH_PAIRED_PHASES has no \(phase))";

(if ran("ingress") then
   line("ingress requests/s"; .ingress_rps),
   line("ingress server CPU per webhook"; .ingress_cpu_server),
   line("ingress Redis CPU per webhook"; .ingress_cpu_redis)
 else skipped("ingress"; "ingress") end),
(if ran("burst") then
   line("end-to-end burst messages/s"; .burst_messages_per_s),
   (if (.burst_cpu_server.ratios // [] | length) > 0 then
      line("end-to-end server CPU per message"; .burst_cpu_server),
      line("end-to-end Redis CPU per message"; .burst_cpu_redis)
    else empty end)
 else skipped("end-to-end burst"; "burst") end),
(if ran("send") | not then skipped("outbound send"; "send")
 elif (.send_texts_per_s.ratios | length) > 0 then
   line("outbound send texts/s"; .send_texts_per_s),
   line("outbound send server CPU per text"; .send_cpu_server),
   line("outbound send Redis CPU per text"; .send_cpu_redis)
 else "  outbound send: the baseline has no outbound API" end),
(if (.sent_per_webhook_server.ratios // [] | length) > 0 then
   "  the working tree's own CPU per sent text / per webhook, same rounds:",
   line("  server"; .sent_per_webhook_server),
   line("  Redis"; .sent_per_webhook_redis)
 else empty end),
(.runs | to_entries | map("  round \(.key + 1): ingress \(f(.value.baseline.ingress_rps; 0)) -> \(f(.value.current.ingress_rps; 0)) req/s, burst \(f(.value.baseline.burst_messages_per_s; 0)) -> \(f(.value.current.burst_messages_per_s; 0)) msg/s, send \(f(.value.baseline.send.texts_per_s; 0)) -> \(f(.value.current.send.texts_per_s; 0)) texts/s") | .[])
