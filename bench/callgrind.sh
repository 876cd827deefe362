#!/usr/bin/env bash
# bench/callgrind.sh: user-space instructions and system calls per proxied request, clubhost
# against nginx, counted rather than timed so the figures repeat on a busy machine.
#
# Each proxy runs alone under `valgrind --tool=callgrind` in front of the same loopback nginx
# backend (a 23-byte file, keep-alive), with bench/proxy's setup: prefix /app stripped, pooled
# keep-alive upstream, X-Forwarded-* set, access logs off. After a warm-up the counters are zeroed
# (callgrind_control -z), wrk runs for a fixed time, the counters are dumped, and the instruction
# total (Ir) is divided by the requests wrk completed. A second pass without valgrind counts the
# proxy's system calls per request with `strace -c -f` (kernel work callgrind cannot see).
#
# Usage: bench/callgrind.sh [seconds] [connections]     (defaults: 20 10)
#        ROUTES=300 bench/callgrind.sh ...   clubhost with 299 more static routes beside /app (the
#                                            route table of a club hosting 300 projects)
# Needs: valgrind, nginx, wrk, strace, target/release/clubhost. Listens on 127.0.0.1 only.
set -euo pipefail
DURATION=${1:-20}
CONNS=${2:-10}
BASE=${BENCH_BASE_PORT:-19500}
BACKEND=$BASE; PROXY=$((BASE + 1))
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CLUBHOST_BIN:-$ROOT/target/release/clubhost}
WORK=$(mktemp -d /tmp/clubhost-cg.XXXXXX); chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.3
  # clubhost serve made its gateway network at start; leave the engine as it was.
  docker network rm clubhost-bench-gateway >/dev/null 2>&1 || true
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }
wait_port() { for _ in $(seq 1 600); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

mkdir -p "$WORK/www" "$WORK/b" "$WORK/n" "$WORK/club"
printf 'hello from the backend\n' > "$WORK/www/index.html"
temps() { echo "client_body_temp_path $1; proxy_temp_path $1; fastcgi_temp_path $1; uwsgi_temp_path $1; scgi_temp_path $1;"; }
cat > "$WORK/backend.conf" <<CONF
worker_processes 1; daemon off; pid $WORK/b/pid; error_log $WORK/b/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 120s; $(temps "$WORK/b")
  server { listen 127.0.0.1:$BACKEND; root $WORK/www; location / { try_files \$uri /index.html; } } }
CONF
nginx -c "$WORK/backend.conf" -e "$WORK/b/error.log" & PIDS+=($!)

cat > "$WORK/nginx.conf" <<CONF
master_process off; daemon off; pid $WORK/n/pid; error_log $WORK/n/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 120s; $(temps "$WORK/n")
  upstream backend { server 127.0.0.1:$BACKEND; keepalive 128; keepalive_requests 1000000; }
  server { listen 127.0.0.1:$PROXY;
    location /app/ {
      proxy_pass http://backend/; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host \$host; proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Real-IP \$remote_addr; proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Host \$host; proxy_set_header X-Forwarded-Prefix /app; } } }
CONF
cat > "$WORK/clubhost.toml" <<CONF
data_dir = "$WORK/club"
[proxy]
listen = "127.0.0.1:$PROXY"
access_log = false
[[proxy.routes]]
path = "/app"
upstream = "http://127.0.0.1:$BACKEND"
[docker]
gateway_network = "clubhost-bench-gateway"
CONF
for i in $(seq 2 "${ROUTES:-1}"); do
  printf '[[proxy.routes]]\npath = "/r%d"\nupstream = "http://127.0.0.1:%d"\n' "$i" "$BACKEND" >> "$WORK/clubhost.toml"
done
wait_port $BACKEND

start_proxy() { # $1 name, $2 wrapper...
  local name=$1; shift
  case $name in
    nginx) taskset -c 0 "$@" nginx -c "$WORK/nginx.conf" -e "$WORK/n/error.log" & ;;
    clubhost) CLUBHOST_LOG=warn taskset -c 0 "$@" "$BIN" --config "$WORK/clubhost.toml" serve 2> "$WORK/club.log" & ;;
  esac
  PROXY_PID=$!; PIDS+=($PROXY_PID); wait_port $PROXY
}
stop_proxy() { kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true; sleep 0.5; }
URL="http://127.0.0.1:$PROXY/app/index.html"
requests() { awk '/requests in/ {print $1}'; }

printf '%-9s %10s %12s %12s %14s\n' proxy requests "Ir/request" "syscalls/req" "syscalls (top)"
for name in ${PROXIES:-nginx clubhost}; do
  start_proxy $name valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.cg" --dump-instr=no --compress-strings=no --compress-pos=no
  wrk -t1 -c"$CONNS" -d5s "$URL" > /dev/null
  callgrind_control -z "$PROXY_PID" > /dev/null 2>&1
  n=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" "$URL" | requests)
  callgrind_control -d "$PROXY_PID" > /dev/null 2>&1
  sleep 1
  ir=$(grep -h '^totals:\|^summary:' "$WORK"/$name.cg.* 2>/dev/null | tail -1 | awk '{print $2}')
  stop_proxy
  # System calls, without valgrind.
  start_proxy $name
  wrk -t1 -c"$CONNS" -d2s "$URL" > /dev/null
  strace -c -f -q -o "$WORK/$name.strace" -p "$PROXY_PID" & ST=$!
  sleep 1
  m=$(wrk -t1 -c"$CONNS" -d5s "$URL" | requests)
  kill -INT $ST; wait $ST 2>/dev/null || true
  calls=$(awk '/^[ 0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+/ {s += $4} END {print s}' "$WORK/$name.strace")
  top=$(awk '/^[ 0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+/ {print $NF":"$4}' "$WORK/$name.strace" | sort -t: -k2 -nr | head -4 | tr '\n' ' ')
  stop_proxy
  awk -v n="$n" -v ir="$ir" -v m="$m" -v c="$calls" -v name=$name -v top="$top" \
    'BEGIN { printf "%-9s %10d %12.0f %12.2f   %s\n", name, n, ir / n, c / m, top }'
  [ -z "${VERBOSE:-}" ] || sed -n 1,30p "$WORK/$name.strace"
done
