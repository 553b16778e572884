# Sourced by scripts/bench when BENCH_BASELINE names a git ref: builds that ref in a worktree of
# its own (target/bench-baseline/, kept between runs) and runs the ingress, end-to-end burst and
# outbound send phases of both builds alternately (ABBA: baseline first in odd rounds, the
# working tree first in even ones), each run on a fresh private Redis, for BENCH_ROUNDS rounds
# (4). The machine is shared and noisy: only these same-run ratios (working tree / baseline, one
# per round, and their median) say whether a change made pyrowire faster or slower.
#
# Uses the bench's helpers and globals (load, e2e, drain, measured_load, post_texts, rss,
# cpu_ticks, wait_ok, stop_pid, the sink, the helper binary, seconds, burst, logs, work).

paired_rounds=${BENCH_ROUNDS:-4}
# BENCH_PAIRED_PHASES: which of `ingress burst send` to run (all of them unless said).
paired_phases=" ${BENCH_PAIRED_PHASES:-ingress burst send} "
# BENCH_BASELINE_ENV: VAR=value words set for the baseline's runs only (an experiment: the same
# build with another setting, such as MIMALLOC_PURGE_DELAY=10 with BENCH_BASELINE=HEAD).
paired_base_env=${BENCH_BASELINE_ENV:-}

# paired_build REF -> the path of the baseline's pyrowire binary, built in its own worktree.
paired_build() {
  local ref=$1 sha src
  sha=$(git rev-parse --verify "$ref^{commit}") || die "BENCH_BASELINE=$ref is not a commit"
  src=$target_dir/bench-baseline/src-$sha
  if [ ! -d "$src" ]; then
    git worktree add --detach --force "$src" "$sha" >&2 || die "could not check out $ref"
  fi
  note "building the baseline $ref ($sha) in $src (release)"
  (cd "$src" && CARGO_TARGET_DIR="$target_dir/bench-baseline/target" \
    cargo build --release --locked >&2) || die "the baseline $ref did not build"
  echo "$target_dir/bench-baseline/target/release/pyrowire"
}

# paired_settings FILE WITH_API: a settings file both builds read (only keys every release
# since the reference knows), with the outbound API's token when WITH_API is yes.
paired_settings() {
  local file=$1 with_api=$2
  {
    cat <<EOF
[profiles.bench]
host = "127.0.0.1"
port = $app_port
log_level = "warn"
redis = "$redis_url"
redis_prefix = "$prefix"
validate_signatures = false
dry_run = false
max_queue_depth = 10000000
EOF
    [ "$with_api" = yes ] && echo "api_token = \"$api_token\""
    cat <<EOF

[topics.bench]
handler = "echo"
accept_response = "Great, we'll get right back to you."
max_message_length = 160
workers = $workers

[topics.bench.validators]
profanity = "You kiss your mother with that mouth? No profanity, please."
length = "Your message was empty or too long."
parseable = "Please only use letters, digits and punctuation."

[topics.bench.twilio]
account_sid = "AC0123456789abcdef0123456789abcdef"  # the webhooks' AccountSid (benches/webhook.lua)
auth_token = "$(hex32)"
from_number = "+15005550006"
api_base = "$sink"
EOF
  } >"$file"
}

# paired_redis DIR: a fresh private Redis; sets redis_port, redis_url, redis_pid.
paired_redis() {
  redis_port=$(start_private_redis "$1")
  redis_url="redis://127.0.0.1:$redis_port/0"
  redis_pid=$(cat "$1/redis.pid")
}

# cpu_per SERVER_TICKS REDIS_TICKS COUNT -> {"server", "redis"}: µs of CPU per item, or null
# for no items.
cpu_per() {
  jq -n --argjson tick "$clock_ticks" --argjson server "$1" --argjson redis "$2" \
    --argjson n "$3" 'if $n > 0 then {server: ($server * 1e6 / $tick / $n),
                                    redis: ($redis * 1e6 / $tick / $n)} else null end'
}

# paired_start BIN SETTINGS ROLE LOG [ENV...]: runs a build in the background, sets app_pid.
paired_start() {
  local bin=$1 settings=$2 role=$3 log=$4
  shift 4
  # shellcheck disable=SC2086 # the environment words are words on purpose
  env $* "$bin" serve --settings "$settings" --profile bench --role "$role" 2>"$logs/$log" &
  app_pid=$!
  pids+=($app_pid)
  wait_ok "$bin --role $role" "$logs/$log" "$app_url/health"
}

# paired_run NAME BIN N -> one build's figures as JSON: ingress requests/s and CPU per webhook,
# the end-to-end burst's messages/s, and (when the build has the outbound API) the outbound send
# phase's texts/s and CPU per sent text.
paired_run() {
  local name=$1 bin=$2 n=$3 dir=$work/pair-$3-$1 settings with_api=yes ingress=null
  local burst_result=null send=null posted stats s0 r0 s1 r1 texts=$((outbound_texts / 2)) env=""
  [ "$name" = baseline ] && env=$paired_base_env
  settings=$dir.toml
  paired_redis "$dir"
  paired_settings "$settings" yes
  "$bin" check --settings "$settings" --profile bench >/dev/null 2>&1 || with_api=no
  [ "$with_api" = yes ] || paired_settings "$settings" no
  "$bin" check --settings "$settings" --profile bench >"$logs/pair-check-$name.log" 2>&1 ||
    die "$name refused the paired settings; see $logs/pair-check-$name.log"

  if [[ $paired_phases == *" ingress "* ]]; then
    paired_start "$bin" "$settings" web "pair-$n-$name-ingress.log" $env
    ingress=$(measured_load "pair-$n-$name-ingress" "$app_pid" "$app_url/queue/bench")
    stop_pid "$app_pid"
    jq -e '.non_2xx == 0' <<<"$ingress" >/dev/null ||
      die "$name answered webhooks with errors; see $logs/wrk-pair-$n-$name-ingress.txt"
    rcli FLUSHALL >/dev/null
  fi

  if [[ $paired_phases == *" burst "* ]]; then
    paired_start "$bin" "$settings" all "pair-$n-$name-e2e.log" $env
    s0=$(cpu_ticks "$app_pid") r0=$(cpu_ticks "$redis_pid")
    burst_result=$(e2e "pair-$n-$name-burst" "$full_load" $(((burst + 1) / 2)) 0)
    s1=$(cpu_ticks "$app_pid") r1=$(cpu_ticks "$redis_pid")
    stop_pid "$app_pid"
    jq -e '.webhooks.non_2xx == 0 and .all_delivered' <<<"$burst_result" >/dev/null ||
      die "$name did not answer or reply to every webhook of the burst; see $logs/pair-$n-$name-e2e.log"
    # CPU per message, webhook to reply (the server and Redis, from the first webhook until the
    # last reply reached the sink).
    burst_result=$(jq --argjson cpu "$(cpu_per $((s1 - s0)) $((r1 - r0)) \
      "$(jq .replies <<<"$burst_result")")" '. + {cpu_us_per_message: $cpu}' <<<"$burst_result")
    rcli FLUSHALL >/dev/null
  fi

  if [ "$with_api" = yes ] && [[ $paired_phases == *" send "* ]]; then
    paired_start "$bin" "$settings" all "pair-$n-$name-send.log" $env
    curl -fs -X POST "$sink/reset" || die "the Twilio sink did not reset"
    s0=$(cpu_ticks "$app_pid") r0=$(cpu_ticks "$redis_pid")
    posted=$(post_texts "$texts")
    stats=$(drain "pair-$n-$name-send" "$(jq .queued <<<"$posted")" "pair-$n-$name-send.log")
    s1=$(cpu_ticks "$app_pid") r1=$(cpu_ticks "$redis_pid")
    stop_pid "$app_pid"
    send=$(jq -n --argjson p "$posted" --argjson s "$stats" \
      --argjson cpu "$(cpu_per $((s1 - s0)) $((r1 - r0)) "$(jq .count <<<"$stats")")" '
      ((($s.last_arrival_us // 0) - $p.first_accepted_us) / 1e6) as $span
      | {sent: $s.count, texts_per_s: (if $span > 0 then $s.count / $span else null end),
         cpu_us_per_text: $cpu}')
  fi
  stop_private_redis "$dir"
  jq -n --argjson i "$ingress" --argjson b "$burst_result" --argjson s "$send" \
    '{ingress_rps: $i.rps, ingress_cpu_us: $i.cpu_us_per_request,
      burst_messages_per_s: $b.messages_per_s, burst_cpu_us: $b.cpu_us_per_message, send: $s}'
}

# paired -> the rounds and their ratios as JSON. Runs in this shell (its output redirected,
# never in a command substitution), so that every process it starts is known to the cleanup.
paired() {
  local base_bin rounds="[]" n
  base_bin=$(paired_build "$BENCH_BASELINE")
  for n in $(seq 1 "$paired_rounds"); do
    note "paired round $n of $paired_rounds (baseline $BENCH_BASELINE and the working tree)"
    if [ $((n % 2)) = 1 ]; then
      paired_run baseline "$base_bin" "$n" >"$work/pair-base.json"
      paired_run current "$app_bin" "$n" >"$work/pair-cur.json"
    else
      paired_run current "$app_bin" "$n" >"$work/pair-cur.json"
      paired_run baseline "$base_bin" "$n" >"$work/pair-base.json"
    fi
    rounds=$(jq --slurpfile b "$work/pair-base.json" --slurpfile c "$work/pair-cur.json" \
      '. + [{baseline: $b[0], current: $c[0]}]' <<<"$rounds")
  done
  jq --arg ref "$BENCH_BASELINE${paired_base_env:+ with $paired_base_env}" --arg sha "$(git rev-parse --short "$BENCH_BASELINE^{commit}")" --arg phases "$paired_phases" '
    def median: sort | if length == 0 then null
      else (length / 2 | floor) as $m
        | if length % 2 == 1 then .[$m] else (.[$m - 1] + .[$m]) / 2 end end;
    def ratios(f): map((.current | f) as $c | (.baseline | f) as $b
      | if $c == null or $b == null or $b == 0 then empty else $c / $b end);
    def summary(f): ratios(f) as $r
      | {ratios: $r, median: ($r | median), min: ($r | min), max: ($r | max)};
    # the working tree against itself in the same round: f per g (a sent text per webhook)
    def own(f; g): map((.current | f) as $f | (.current | g) as $g
      | if $f == null or $g == null or $g == 0 then empty else $f / $g end) as $r
      | {ratios: $r, median: ($r | median), min: ($r | min), max: ($r | max)};
    {baseline: $ref, sha: $sha, rounds: length, runs: .,
     phases: ($phases | split(" ") | map(select(. != ""))),
     ingress_rps: summary(.ingress_rps),
     ingress_cpu_server: summary(.ingress_cpu_us.server),
     ingress_cpu_redis: summary(.ingress_cpu_us.redis),
     burst_messages_per_s: summary(.burst_messages_per_s),
     burst_cpu_server: summary(.burst_cpu_us.server),
     burst_cpu_redis: summary(.burst_cpu_us.redis),
     send_texts_per_s: summary(.send.texts_per_s),
     send_cpu_server: summary(.send.cpu_us_per_text.server),
     send_cpu_redis: summary(.send.cpu_us_per_text.redis),
     sent_per_webhook_server: own(.send.cpu_us_per_text.server; .ingress_cpu_us.server),
     sent_per_webhook_redis: own(.send.cpu_us_per_text.redis; .ingress_cpu_us.redis)}' <<<"$rounds"
}
