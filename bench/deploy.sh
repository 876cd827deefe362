#!/usr/bin/env bash
# Deploy and teardown latency: clubhost against docker-compose (v1) on the same two-service stack.
#
#   bench/deploy.sh [-n N] [-v] [-B]
#
#   -n N  runs per measurement (default 5); every run uses a fresh slug / compose project
#   -v    also print each run's Docker event timeline (ms after the command was issued)
#   -B    skip `cargo build --release` (use the existing target/release/clubhost)
#   BENCH_GATEWAY=NAME  gateway network for clubhost (default clubhost-bench-gateway-<pid>)
#
# Measured per run, wall clock with `date +%s%N`:
#   clubhost approve→200   `clubhost project approve S` issued → first HTTP 200 at
#                          http://127.0.0.1:PORT/S/ through clubhost's proxy
#   compose up -d→200      `docker-compose up -d` issued → first HTTP 200 from the web container's
#                          IP on the compose network (the IP lookup is included)
#   clubhost expire→gone   `clubhost project expire S` issued → no container labelled with S left
#   compose down→gone      `docker-compose down` issued → no container of the project left
#   compose down -t 0→gone the same with no stop grace period (SIGKILL at once, as clubhost does)
# Indented rows are when the command itself returned. Polls run every 20 ms and give up after 60 s.
#
# Needs: docker (the engine), docker-compose 1.x, curl, python3 (free port), busybox-static (only
# when the test image must be built), cargo. Everything it creates is removed on exit, except the
# shared test image clubhost-test-busybox:latest, which it only builds when missing.
set -euo pipefail
# Messages go to fd 3, the original stderr: a trap may run while a command's output is redirected
# to a log.
exec 3>&2

RUNS=5
VERBOSE=0
BUILD=1
while getopts "n:vBh" opt; do
    case "$opt" in
        n) RUNS=$OPTARG ;;
        v) VERBOSE=1 ;;
        B) BUILD=0 ;;
        h) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
        *) echo "usage: $0 [-n N] [-v] [-B]" >&2; exit 2 ;;
    esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "-n wants a positive number, got $RUNS" >&2; exit 2; }

REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=$REPO/target/release/clubhost
IMAGE=clubhost-test-busybox:latest
# Its own gateway network: bench/proxy and bench/edge.sh share "clubhost-bench-gateway" and remove
# it when they end, and a running server does not recreate a gateway that vanished under it.
GATEWAY=${BENCH_GATEWAY:-clubhost-bench-gateway-$$}
POLL_INTERVAL=0.02
POLL_TIMEOUT_MS=60000
TAG=bench$$ # in every slug and compose project name, so nothing collides with other runs

die() { echo "deploy.sh: $*" >&3; exit 1; }
now_ns() { date +%s%N; }
ms_since() { echo $(( ($(now_ns) - $1) / 1000000 )); }

for tool in docker docker-compose curl python3; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
docker info >/dev/null 2>&1 || die "the Docker engine does not answer"

# ---------------------------------------------------------------- cleanup (trap)

TMP=""
SERVER_PID=""
GATEWAY_EXISTED=1
declare -A CH_PENDING=()      # clubhost slugs that may still have Docker objects or a registry row
declare -A COMPOSE_PENDING=() # compose project names that may still have Docker objects

ch() { CLUBHOST_LOG=warn "$BIN" --config "$TMP/clubhost.toml" "$@"; }
compose() { docker-compose --ansi never -f "$TMP/stack.yml" -p "$@"; }

ch_delete() {
    local s=$1
    ch project delete "$s" >>"$TMP/cleanup.log" 2>&1 || true
    # If the server could not do it, remove what carries this slug's label (slugs contain $TAG).
    local ids
    ids=$(docker ps -aq --filter "label=clubhost.project=$s")
    [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
    docker network rm "clubhost-$s" >/dev/null 2>&1 || true
    ids=$(docker volume ls -q --filter "label=clubhost.project=$s")
    [ -z "$ids" ] || docker volume rm -f $ids >/dev/null 2>&1 || true
    unset "CH_PENDING[$s]"
}

compose_delete() {
    compose "$1" down -v -t 0 >>"$TMP/cleanup.log" 2>&1 || true
    unset "COMPOSE_PENDING[$1]"
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    # A signal that lands while a $(…) subshell is being forked can run this trap in the subshell;
    # only the script itself cleans up.
    [ "$BASHPID" = "$$" ] || exit "$rc"
    [ -n "$TMP" ] || exit "$rc"
    local name
    for name in "${!COMPOSE_PENDING[@]}"; do compose_delete "$name"; done
    for name in "${!CH_PENDING[@]}"; do ch_delete "$name"; done
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for ((n = 0; n < 100; n++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "$GATEWAY_EXISTED" = 0 ]; then
        docker network rm "$GATEWAY" >/dev/null 2>&1 || true
    fi
    if [ "$rc" != 0 ] && [ -s "$TMP/serve.log" ]; then
        echo "--- last lines of clubhost serve's log:" >&3
        tail -20 "$TMP/serve.log" >&3
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
TMP=$(mktemp -d /tmp/clubhost-bench.XXXXXX)

# ---------------------------------------------------------------- build, image, server

if [ "$BUILD" = 1 ]; then
    echo "building clubhost (cargo build --release)…" >&2
    (cd "$REPO" && cargo build --release --quiet) || die "cargo build --release failed"
fi
[ -x "$BIN" ] || die "$BIN is missing (run without -B)"

# The same image tests/it/common.rs builds: FROM scratch with Debian's static busybox, no registry.
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    busybox=""
    for p in /bin/busybox /usr/bin/busybox; do [ -e "$p" ] && { busybox=$p; break; }; done
    [ -n "$busybox" ] || die "busybox-static must be installed (apt-get install busybox-static)"
    root=$TMP/rootfs
    mkdir -p "$root/bin" "$root/tmp"
    cp "$busybox" "$root/bin/busybox"
    for applet in sh httpd nc echo mkdir cat sleep true false hostname ls wget kill trap; do
        ln -s busybox "$root/bin/$applet"
    done
    echo "importing $IMAGE…" >&2
    tar -C "$root" -c . | docker import - "$IMAGE" >/dev/null || die "docker import failed"
    rm -rf "$root"
fi

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$TMP/clubhost.toml" <<EOF
data_dir = "$TMP/data"

[proxy]
listen = "127.0.0.1:$PORT"

[docker]
gateway_network = "$GATEWAY"
deploy_timeout = "60s"
EOF

# One file for both tools: compose v1 takes the x- block with version 3.8, clubhost ignores version.
cat >"$TMP/stack.yml" <<EOF
version: "3.8"
services:
  web:
    image: $IMAGE
    command: ["sh", "-c", "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 8000 -h /www"]
    depends_on: [db]
  db:
    image: $IMAGE
    command: nc -ll -p 3306 -e echo hello db
    volumes:
      - data:/data
volumes:
  data:
x-clubhost:
  expose: web
  port: 8000
EOF
docker-compose -f "$TMP/stack.yml" config -q || die "docker-compose refuses the stack file"

docker network inspect "$GATEWAY" >/dev/null 2>&1 || GATEWAY_EXISTED=0
# In its own session, so a Ctrl-C meant for this script does not stop the server before cleanup
# has used it to delete the projects.
CLUBHOST_LOG=info setsid "$BIN" --config "$TMP/clubhost.toml" serve >/dev/null 2>"$TMP/serve.log" &
SERVER_PID=$!
start=$(now_ns)
until [ -S "$TMP/data/clubhost.sock" ] \
    && [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/portal/")" != 000 ]; do
    kill -0 "$SERVER_PID" 2>/dev/null || die "clubhost serve exited"
    [ "$(ms_since "$start")" -lt "$POLL_TIMEOUT_MS" ] || die "clubhost serve did not come up in 60 s"
    sleep 0.05
done
ch user add bench >/dev/null || die "clubhost user add failed"

# ---------------------------------------------------------------- measuring

# Polls until `curl URL` answers 200; prints the ms since $2 (ns) when it does.
wait_200() {
    local url=$1 t0=$2 code
    while :; do
        kill -0 "$SERVER_PID" 2>/dev/null || die "clubhost serve exited"
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true)
        [ "$code" = 200 ] && { ms_since "$t0"; return 0; }
        [ "$(ms_since "$t0")" -lt "$POLL_TIMEOUT_MS" ] || die "no 200 from $url within 60 s (last: $code)"
        sleep "$POLL_INTERVAL"
    done
}

# Polls until `docker ps -a` lists no container with label $1; prints the ms since $2 (ns).
wait_gone() {
    local label=$1 t0=$2
    while [ -n "$(docker ps -aq --filter "label=$label")" ]; do
        kill -0 "$SERVER_PID" 2>/dev/null || die "clubhost serve exited"
        [ "$(ms_since "$t0")" -lt "$POLL_TIMEOUT_MS" ] || die "containers with $label still there after 60 s"
        sleep "$POLL_INTERVAL"
    done
    ms_since "$t0"
}

# Polls until compose project $1's web container has an address on its network; prints it.
compose_web_ip() {
    local name=$1 t0=$2 ip=""
    local norm=${name//[^a-z0-9_-]/}
    while :; do
        ip=$(docker inspect -f "{{with index .NetworkSettings.Networks \"${norm}_default\"}}{{.IPAddress}}{{end}}" \
            "${norm}_web_1" 2>/dev/null || true)
        [ -n "$ip" ] && { echo "$ip"; return 0; }
        [ "$(ms_since "$t0")" -lt "$POLL_TIMEOUT_MS" ] || die "compose project $name has no web address"
        sleep "$POLL_INTERVAL"
    done
}

# With -v: Docker's events from $1 (ns) until now whose object name matches the regex $2, in ms
# after $1.
timeline() {
    [ "$VERBOSE" = 1 ] || return 0
    local t0=$1 pattern=$2 title=$3 t1
    t1=$(now_ns)
    echo "    $title"
    docker events --since "$(ns_to_s "$t0")" --until "$(ns_to_s "$t1")" \
        --format '{{.TimeNano}} {{.Type}} {{.Action}} {{if .Actor.Attributes.name}}{{.Actor.Attributes.name}}{{else}}{{.Actor.ID}}{{end}}' \
        | grep -E -- "$pattern" \
        | awk -v t0="$t0" '{ printf "      %6d ms  %-9s %-11s %s\n", ($1 - t0) / 1e6, $2, $3, $4 }' || true
}
ns_to_s() { printf '%d.%09d' $(($1 / 1000000000)) $(($1 % 1000000000)); }

declare -A SAMPLES=()
record() { SAMPLES[$1]+="$2 "; }

measure_clubhost() {
    local i=$1 slug="$TAG-$i" t0 out ret ms
    CH_PENDING[$slug]=1
    ch project submit --owner bench --slug "$slug" --stack "$TMP/stack.yml" >/dev/null \
        || die "clubhost project submit $slug failed"

    t0=$(now_ns)
    out=$(ch project approve "$slug" 2>&1) || die "clubhost project approve $slug failed: $out"
    ret=$(ms_since "$t0")
    ms=$(wait_200 "http://127.0.0.1:$PORT/$slug/" "$t0")
    record ch_up "$ms"; record ch_up_ret "$ret"
    [ "$(curl -s "http://127.0.0.1:$PORT/$slug/")" = hello ] || die "unexpected page at /$slug/"
    timeline "$t0" "clubhost-$slug|$GATEWAY" "clubhost approve (returned at $ret ms, first 200 at $ms ms)"

    t0=$(now_ns)
    out=$(ch project expire "$slug" 2>&1) || die "clubhost project expire $slug failed: $out"
    ret=$(ms_since "$t0")
    ms=$(wait_gone "clubhost.project=$slug" "$t0")
    record ch_down "$ms"; record ch_down_ret "$ret"
    timeline "$t0" "clubhost-$slug|$GATEWAY" "clubhost expire (returned at $ret ms, gone at $ms ms)"

    ch_delete "$slug"
}

compose_up() {
    local name=$1 t0=$2 ip
    compose "$name" up -d >>"$TMP/compose.log" 2>&1 || die "docker-compose up -d ($name) failed; see $TMP/compose.log"
    ret=$(ms_since "$t0")
    ip=$(compose_web_ip "$name" "$t0")
    url="http://$ip:8000/"
    ms=$(wait_200 "$url" "$t0")
}

measure_compose() {
    local i=$1 name="$TAG-$i" t0 ret ms url
    COMPOSE_PENDING[$name]=1

    t0=$(now_ns)
    compose_up "$name" "$t0"
    record co_up "$ms"; record co_up_ret "$ret"
    [ "$(curl -s "$url")" = hello ] || die "unexpected page at $url"
    timeline "$t0" "$name" "compose up -d (returned at $ret ms, first 200 at $ms ms)"

    t0=$(now_ns)
    compose "$name" down >>"$TMP/compose.log" 2>&1 || die "docker-compose down ($name) failed"
    ret=$(ms_since "$t0")
    ms=$(wait_gone "com.docker.compose.project=$name" "$t0")
    record co_down "$ms"; record co_down_ret "$ret"
    timeline "$t0" "$name" "compose down (returned at $ret ms, gone at $ms ms)"

    # Again, stopping with no grace period: what clubhost's forced removal amounts to.
    compose_up "$name" "$(now_ns)"
    t0=$(now_ns)
    compose "$name" down -t 0 >>"$TMP/compose.log" 2>&1 || die "docker-compose down -t 0 ($name) failed"
    ret=$(ms_since "$t0")
    ms=$(wait_gone "com.docker.compose.project=$name" "$t0")
    record co_kill "$ms"; record co_kill_ret "$ret"
    timeline "$t0" "$name" "compose down -t 0 (returned at $ret ms, gone at $ms ms)"

    compose_delete "$name"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
version=$("$BIN" --version)
compose_version=$(docker-compose version --short)
engine_version=$(docker version --format '{{.Server.Version}}')
cores=$(nproc)
echo "${version} vs docker-compose ${compose_version}, Docker ${engine_version}, ${cores} cores; ${RUNS} runs" >&2
for i in $(seq 1 "$RUNS"); do
    echo "run $i/$RUNS" >&2
    # Alternate which tool goes first, so neither always runs on a warmer engine.
    if (( i % 2 )); then measure_clubhost "$i"; measure_compose "$i"
    else measure_compose "$i"; measure_clubhost "$i"; fi
done

# ---------------------------------------------------------------- table

stats() { # median min max of the numbers in $1
    tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '
        { v[NR] = $1 }
        END {
            med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%8d %8d %8d", med, v[1], v[NR]
        }'
}
row() { printf '%-30s %s\n' "$1" "$(stats "${SAMPLES[$2]}")"; }

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo
printf '%-30s %8s %8s %8s   (ms, %d runs)\n' "" median min max "$RUNS"
row "clubhost approve->200" ch_up
row "  approve returned" ch_up_ret
row "compose up -d->200" co_up
row "  up -d returned" co_up_ret
row "clubhost expire->gone" ch_down
row "  expire returned" ch_down_ret
row "compose down->gone" co_down
row "  down returned" co_down_ret
row "compose down -t 0->gone" co_kill
row "  down -t 0 returned" co_kill_ret
