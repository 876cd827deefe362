#!/usr/bin/env bash
# Edge load figures for docs/reliability.md. Traffic goes only to loopback and to the benchmark
# project's own container.
#
#   bench/edge.sh [-d SECONDS] [-c CLIENTS] [-i IDLE] [-u nginx|container]
#   bench/edge.sh -m neighbours [-d SECONDS] [-c CLIENTS] [-b BAD_CLIENTS]
#
# Default mode (`-m load`): memory with 10,000 idle connections, and 1,000 concurrent keep-alive
# clients for 60 s through the proxy. -u picks what sits behind the proxy: `nginx` (default) is a
# static route to a loopback nginx with keep-alive, so the figures are the proxy's; `container`
# is a project deployed from a busybox httpd image, which forks per request and, on 2 cores, is
# itself the bottleneck.
#
# `-m neighbours` (issue 21): the p99 latency of a healthy project (the loopback nginx, CLIENTS
# keep-alive wrk clients, default 32) alone, then while other projects misbehave: one that never
# answers, one that sends a head and then one byte a second, one whose chunked body never ends
# (1 KiB every 100 ms), each alone and then all three at once. Each misbehaving project has
# BAD_CLIENTS wrk clients of its own (default 300: more than `max_conns_per_route`, 256, so each
# holds its whole cap and fills part of its queue of `max_waiting_per_route`, 64). The bad
# upstreams are one Python asyncio process on loopback. Every run lasts SECONDS (default 20).
#
# CLUBHOST_BIN picks the binary (default: target/release/clubhost under CARGO_TARGET_DIR or
# ./target); SKIP_BUILD=1 skips `cargo build --release`.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=60 CLIENTS=1000 IDLE=10000 UPSTREAM=nginx MODE=load BAD=300
ARGS=" $* "
while getopts "d:c:i:u:m:b:" o; do
    case $o in d) DURATION=$OPTARG ;; c) CLIENTS=$OPTARG ;; i) IDLE=$OPTARG ;; u) UPSTREAM=$OPTARG ;;
        m) MODE=$OPTARG ;; b) BAD=$OPTARG ;; *) exit 2 ;; esac
done
if [ "$MODE" = neighbours ]; then
    # Defaults of their own unless given.
    [[ $ARGS == *" -d "* ]] || DURATION=20
    [[ $ARGS == *" -c "* ]] || CLIENTS=32
    UPSTREAM=nginx
fi
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
ulimit -n "$(ulimit -Hn)"  # 10,000 idle sockets need more than the usual 1,024

[ "${SKIP_BUILD:-}" = 1 ] || cargo build --release -q
BIN=${CLUBHOST_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/clubhost}
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SLUG=edge-$$
BACKEND=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BAD_PORTS=($(python3 -c 'import socket
ss=[socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1",0))
print(*[s.getsockname()[1] for s in ss])'))
GATEWAY=clubhost-bench-edge-$$  # its own, so a concurrent benchmark's is left alone
cat >"$WORK/clubhost.toml" <<TOML
data_dir = "$WORK/data"
[proxy]
listen = "127.0.0.1:$PORT"
access_log = false
[[proxy.routes]]
path = "/edge"
upstream = "http://127.0.0.1:$BACKEND"
[[proxy.routes]]
path = "/never"
upstream = "http://127.0.0.1:${BAD_PORTS[0]}"
[[proxy.routes]]
path = "/dribble"
upstream = "http://127.0.0.1:${BAD_PORTS[1]}"
[[proxy.routes]]
path = "/endless"
upstream = "http://127.0.0.1:${BAD_PORTS[2]}"
[docker]
gateway_network = "$GATEWAY"
# A range of its own: the engine may hold the tests' gateway on the default 10.213.0.0/22.
subnet_pool = "10.238.0.0/16"
gateway_subnet = "10.238.0.0/22"
TOML
cleanup() {
    "$BIN" --config "$WORK/clubhost.toml" project delete "$SLUG" >/dev/null 2>&1 || true
    # `wait` on a killed process is non-zero: each line must not end the cleanup early.
    for p in "${SERVER:-}" "${NGINX:-}" "${BADS:-}"; do
        [ -n "$p" ] && { kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; } || true
    done
    docker network rm "$GATEWAY" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

if ! docker image inspect clubhost-test-busybox >/dev/null 2>&1; then
    root=$WORK/rootfs; mkdir -p "$root/bin"; cp /bin/busybox "$root/bin/"
    for a in sh httpd mkdir echo; do ln -s busybox "$root/bin/$a"; done
    tar -C "$root" -c . | docker import - clubhost-test-busybox:latest >/dev/null
fi
cat >"$WORK/stack.yml" <<'YML'
services:
  web:
    image: clubhost-test-busybox
    command: ["sh", "-c", "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 8000 -h /www"]
x-clubhost: { expose: web, port: 8000 }
YML

CLUBHOST_LOG=warn "$BIN" --config "$WORK/clubhost.toml" serve 2>"$WORK/serve.log" &
SERVER=$!
for _ in $(seq 100); do [ -S "$WORK/data/clubhost.sock" ] && break; sleep 0.1; done
C() { "$BIN" --config "$WORK/clubhost.toml" "$@"; }
if [ "$UPSTREAM" = container ]; then
    C user add bench >/dev/null
    C project submit --owner bench --slug "$SLUG" --stack "$WORK/stack.yml" >/dev/null
    C project approve "$SLUG" >/dev/null
    URL="http://127.0.0.1:$PORT/$SLUG/"
else
    command -v nginx >/dev/null || { echo "needs nginx (apt-get install nginx) or -u container"; exit 1; }
    mkdir -p "$WORK/www" "$WORK/nginx"; chmod 755 "$WORK"; echo hello > "$WORK/www/index.html"
    t=$WORK/nginx
    cat >"$WORK/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $t/pid; error_log $t/error.log; worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 120s;
  client_body_temp_path $t; proxy_temp_path $t; fastcgi_temp_path $t; uwsgi_temp_path $t; scgi_temp_path $t;
  server { listen 127.0.0.1:$BACKEND; root $WORK/www; } }
CONF
    nginx -c "$WORK/nginx.conf" -e "$t/error.log" &
    NGINX=$!
    URL="http://127.0.0.1:$PORT/edge/"
fi
for _ in $(seq 100); do curl -sf -o /dev/null "$URL" && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }

if [ "$MODE" = neighbours ]; then
    python3 - "$WORK/bad.ready" "${BAD_PORTS[@]}" <<'PY' &
import asyncio, sys
ready, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
async def handle(reader, writer, mode):
    try:
        while True:
            await reader.readuntil(b"\r\n\r\n")  # a request head; no bodies are sent here
            if mode == "never":
                await asyncio.sleep(3600)
            elif mode == "dribble":
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n")
                while True:
                    writer.write(b"x"); await writer.drain(); await asyncio.sleep(1)
            else:
                writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                chunk = b"400\r\n" + b"x" * 1024 + b"\r\n"
                while True:
                    writer.write(chunk); await writer.drain(); await asyncio.sleep(0.1)
    except Exception:
        pass
    finally:
        writer.close()
async def main():
    for port, mode in zip(ports, ["never", "dribble", "endless"]):
        await asyncio.start_server(lambda r, w, m=mode: handle(r, w, m), "127.0.0.1", port, backlog=1024)
    open(ready, "w").close()
    await asyncio.sleep(86400)
asyncio.run(main())
PY
    BADS=$!
    for _ in $(seq 100); do [ -e "$WORK/bad.ready" ] && break; sleep 0.1; done
    p99() { awk '$1 == "99%" {print $2}' "$1"; }
    # One healthy measurement with the named misbehaving projects under load meanwhile.
    measure() {
        local label=$1; shift
        local attackers=()
        for bad in "$@"; do
            # --timeout beyond the run: a held request stays held (no reconnect storm).
            wrk -t1 -c"$BAD" -d"$((DURATION + 5))s" --timeout "$((DURATION + 10))s" \
                "http://127.0.0.1:$PORT/$bad/" >"$WORK/bad-$bad.txt" 2>&1 &
            attackers+=($!)
        done
        [ $# -eq 0 ] || sleep 3  # let them reach their caps
        wrk -t1 -c"$CLIENTS" -d"${DURATION}s" --latency "$URL" >"$WORK/healthy.txt"
        local held
        held=$(ls /proc/$SERVER/fd | wc -l)
        for a in "${attackers[@]}"; do wait "$a" || true; done
        local reqs errs
        reqs=$(awk '/Requests\/sec/ {print $2}' "$WORK/healthy.txt")
        errs=$(grep -E "Socket errors|Non-2xx" "$WORK/healthy.txt" | tr -s ' ' | paste -sd ';' || true)
        printf '| %s | %s | %s | %s | %s |\n' "$label" "$(p99 "$WORK/healthy.txt")" "$reqs" \
            "$held" "${errs:-none}"
        for bad in "$@"; do
            echo "    $bad: $(grep -E 'requests in|Non-2xx|Socket errors' "$WORK/bad-$bad.txt" | tr -s ' ' | paste -sd ';')" >&2
        done
    }
    echo "== healthy project p99, $CLIENTS clients, ${DURATION}s each; $BAD clients per misbehaving project"
    echo "| misbehaving meanwhile | healthy p99 | healthy req/s | proxy fds at the end | healthy errors |"
    echo "|---|---|---|---|---|"
    measure "none"
    measure "never answers" never
    measure "1 byte a second" dribble
    measure "endless body" endless
    measure "all three" never dribble endless
    measure "none, again" 
    exit 0
fi

echo "== idle connections: $IDLE"
before=$(rss)
fds_before=$(ls /proc/$SERVER/fd | wc -l)
python3 - "$PORT" "$IDLE" "$WORK/idle.ready" <<'PY' &
import socket, sys, time
port, n, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    socks.append(s)
open(ready, "w").close()
time.sleep(10)  # held open, sending nothing
PY
HOLDER=$!
for _ in $(seq 600); do [ -e "$WORK/idle.ready" ] && break; sleep 0.1; done
sleep 2  # let the server accept the last ones
held=$(rss)
open_fds=$(ls /proc/$SERVER/fd | wc -l)
held_conns=$((open_fds - fds_before))
wait $HOLDER
sleep 1
after=$(rss)
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL")
echo "rss before ${before} KiB, holding ${held} KiB (${held_conns} connections open), after ${after} KiB; then GET -> $code"
echo "per idle connection: $(( (held - before) * 1024 / (held_conns > 0 ? held_conns : 1) )) bytes"

echo "== $CLIENTS keep-alive clients for ${DURATION}s"
wrk -t2 -c"$CLIENTS" -d"${DURATION}s" --latency "$URL" | tee "$WORK/wrk.txt"
peak=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER/status")
echo "server peak rss ${peak} KiB"
if grep -q "Socket errors\|Non-2xx" "$WORK/wrk.txt"; then echo "ERRORS seen"; else echo "zero errors"; fi
