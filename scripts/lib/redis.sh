# Shared by scripts/serve, scripts/test and scripts/bench: find or install redis-server and run a
# private instance on a free loopback port with its own data directory.

apt_updated=""
apt_install() {
  local sudo=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo=sudo; fi
  if [ -z "$apt_updated" ]; then
    $sudo apt-get update -qq >/dev/null
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

ensure_redis_server() {
  if command -v redis-server >/dev/null 2>&1; then
    return 0
  fi
  echo "redis-server is missing; installing it with apt-get" >&2
  apt_install redis-server
}

# The TLS tests make a throwaway certificate authority and server certificate with openssl.
ensure_openssl() {
  if command -v openssl >/dev/null 2>&1; then
    return 0
  fi
  echo "openssl is missing; installing it with apt-get" >&2
  apt_install openssl
}

port_is_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
  local port tries=0
  while [ $tries -lt 200 ]; do
    # Below Linux's ephemeral range (32768+), where outgoing connections take their ports.
    port=$(( (RANDOM % 12000) + 20000 ))
    if port_is_free "$port"; then
      echo "$port"
      return 0
    fi
    tries=$((tries + 1))
  done
  echo "no free port found" >&2
  return 1
}

# start_private_redis DIR [PORT] -> prints the port; the server writes DIR/redis.pid. Without a
# PORT it tries a few free ports (a port can be taken between the check and the bind).
start_private_redis() {
  local dir=$1 port=${2:-} attempt
  for attempt in 1 2 3 4 5; do
    local try=$port
    [ -n "$try" ] || try=$(free_port)
    if start_redis_on "$dir" "$try"; then
      echo "$try"
      return 0
    fi
    [ -z "$port" ] || break
  done
  echo "redis-server did not start; see $dir/redis.log" >&2
  cat "$dir/redis.log" >&2 2>/dev/null || true
  return 1
}

# start_redis_on DIR PORT [SERVER ARGS...]: extra arguments go to redis-server as they are.
start_redis_on() {
  local dir=$1 port=$2 i
  shift 2
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --save "" --appendonly yes \
    --appendfsync everysec "$@" >/dev/null || return 1
  for i in $(seq 1 100); do
    if redis-cli -p "$port" ping >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.05
  done
  return 1
}

# info_has PORT LINE...: whether every LINE (such as master_link_status:up) is in the INFO of the
# redis-server on PORT.
info_has() {
  local port=$1 info line
  shift
  info=$(redis-cli -p "$port" info 2>/dev/null | tr -d '\r') || return 1
  for line in "$@"; do grep -qx "$line" <<<"$info" || return 1; done
}

# start_private_replica DIR PRIMARY_PORT -> prints the port of a private redis-server (as
# start_private_redis) that replicates the one on PRIMARY_PORT; returns once its link to the
# primary is up, the append-only file it rewrites after the first sync is written, and a write
# to the primary is confirmed by WAIT (20 s at most), so that a load can start at once. Sets the
# primary's repl-diskless-sync-delay to 0: the first sync starts at once instead of after 5 s.
start_private_replica() {
  local dir=$1 primary=$2 attempt port i
  redis-cli -p "$primary" config set repl-diskless-sync-delay 0 >/dev/null || return 1
  for attempt in 1 2 3 4 5; do
    port=$(free_port) || return 1
    start_redis_on "$dir" "$port" --replicaof 127.0.0.1 "$primary" && break
    port=""
  done
  if [ -z "$port" ]; then
    echo "the replica redis-server did not start; see $dir/redis.log" >&2
    return 1
  fi
  for i in $(seq 1 400); do
    if info_has "$port" master_link_status:up aof_rewrite_in_progress:0 \
      aof_rewrite_scheduled:0 &&
      [ "$(printf 'SET replica-probe 1\nWAIT 1 100\nDEL replica-probe\n' |
        redis-cli -p "$primary" 2>/dev/null | sed -n 2p)" = 1 ]; then
      echo "$port"
      return 0
    fi
    sleep 0.05
  done
  echo "the replica on port $port was not linked to its primary, with its append-only file" \
    "written and writes acknowledged, within 20 s; see $dir/redis.log" >&2
  return 1
}

stop_private_redis() {
  local dir=$1 pid i
  if [ -f "$dir/redis.pid" ]; then
    pid=$(cat "$dir/redis.pid")
    kill "$pid" 2>/dev/null || true
    # Wait (bounded) for it to finish writing, so its directory can be removed.
    for i in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    rm -f "$dir/redis.pid"
  fi
}
