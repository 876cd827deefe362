#!/usr/bin/env bash
# Portal page render times with signed-in members (figures in docs/performance.md): N members
# (50 by default) log in through the portal's own form, then wrk keeps C connections (50) busy
# for D seconds per page, each request carrying one of the members' session cookies in turn, all
# over loopback. Prints wrk's latency distribution (p50/p75/p90/p99) for each page.
#
#   bench/portal.sh [-d SECONDS] [-c CONNECTIONS] [-n MEMBERS] [-b BINARY]
#
# The club has a few projects so the pages have something to show: the gallery (the portal's root
# for members), "my projects", the request form (templates, variables) and the club's page.
set -euo pipefail
[ "${TRACE:-}" = 1 ] && set -x
cd "$(dirname "$0")/.."
DURATION=20 CONNS=50 MEMBERS=50 BIN=
while getopts "d:c:n:b:" o; do
    case $o in d) DURATION=$OPTARG ;; c) CONNS=$OPTARG ;; n) MEMBERS=$OPTARG ;; b) BIN=$OPTARG ;; *) exit 2 ;; esac
done
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
command -v curl >/dev/null || { echo "needs curl"; exit 1; }
if [ -z "$BIN" ]; then
    [ "${SKIP_BUILD:-}" = 1 ] || cargo build --release -q
    BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/clubhost
fi
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
cat >"$WORK/clubhost.toml" <<TOML
domain = "127.0.0.1"
data_dir = "$WORK/data"
[proxy]
listen = "127.0.0.1:$PORT"
access_log = false
[docker]
gateway_network = "clubhost-bench-portal"
gateway_subnet = "10.239.250.0/24"
[club]
name = "Bench Club"
intro = "We **measure** things."
TOML
ch() { CLUBHOST_LOG=warn "$BIN" --config "$WORK/clubhost.toml" "$@"; }
# The bench deploys nothing; the gateway network the server makes at start goes with it.
had_gateway=$(docker network inspect clubhost-bench-portal >/dev/null 2>&1 && echo 1 || true)
cleanup() {
    [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    [ -z "$had_gateway" ] && docker network rm clubhost-bench-portal >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

CLUBHOST_LOG=warn "$BIN" --config "$WORK/clubhost.toml" serve 2>"$WORK/serve.log" &
SERVER=$!
# The socket and port are bound before Docker is reached and reconciled: wait for the portal.
for _ in $(seq 300); do curl -sf -o /dev/null "$BASE/portal/login" && break; sleep 0.1; done
curl -sf -o /dev/null "$BASE/portal/login" || { echo "the server did not start:"; cat "$WORK/serve.log"; exit 1; }

# A few requests waiting (no Docker work needed), so "my projects" lists something.
cat >"$WORK/stack.yml" <<'YML'
services:
  web:
    image: clubhost-test-busybox
x-clubhost: { expose: web, port: 8000 }
YML
echo "signing in $MEMBERS members" >&2
: >"$WORK/cookies.txt"
for i in $(seq -w 1 "$MEMBERS"); do
    ch user add "m$i" >/dev/null
    printf 'bench password %s\n' "$i" | ch user passwd "m$i" >/dev/null
    [ "$i" -le 05 ] && ch project submit --owner "m$i" --slug "bench-$i" --name "Bench $i" \
        --description "benchmark project $i" --stack "$WORK/stack.yml" >/dev/null
    jar=$WORK/jar-$i
    token=$(curl -s -c "$jar" "$BASE/portal/login" | grep -o 'name="csrf" value="[^"]*"' | head -1 | cut -d'"' -f4)
    curl -s -b "$jar" -c "$jar" -o /dev/null -H "Origin: $BASE" \
        --data-urlencode "csrf=$token" --data-urlencode "login=m$i" \
        --data-urlencode "password=bench password $i" "$BASE/portal/login"
    session=$(awk '$6 == "clubhost_session" { print $7 }' "$jar")
    [ -n "$session" ] || { echo "login of m$i failed" >&2; exit 1; }
    echo "$session" >>"$WORK/cookies.txt"
done

# Each request takes the next member's cookie: all 50 sessions are read concurrently.
cat >"$WORK/members.lua" <<LUA
local cookies = {}
for line in io.lines("$WORK/cookies.txt") do cookies[#cookies + 1] = line end
local i = 0
request = function()
  i = i % #cookies + 1
  return wrk.format("GET", nil, { ["Cookie"] = "clubhost_session=" .. cookies[i] })
end
LUA

for page in /portal/ /portal/projects /portal/request /portal/club; do
    echo "== $page: $CONNS connections, $MEMBERS members, ${DURATION}s"
    wrk -t 2 -c "$CONNS" -d "${DURATION}s" --latency -s "$WORK/members.lua" "$BASE$page" |
        grep -E "Latency|50%|75%|90%|99%|Requests/sec|Non-2xx"
done
