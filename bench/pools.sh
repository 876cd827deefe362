#!/usr/bin/env bash
# Many one-service projects on one engine with Docker's default daemon settings (issue 17): each
# project network gets a block of clubhost's own [docker] subnet_pool, so the count is not capped
# by Docker's ~30 default pools.
#
#   bench/pools.sh [-n N] [-j J] [-b BIN]
#
#   -n N    projects (default 100); the first half is approved one after the other, the second
#           half J at once
#   -j J    approvals in flight in the concurrent half (default 4)
#   -b BIN  the clubhost binary (default $CARGO_TARGET_DIR or ./target, then debug/clubhost);
#           the script never builds
#
# Measured, wall clock with `date +%s%N`:
#   sequential approve      projects per minute, `clubhost project approve` one after another
#                           (each returns once its route answers)
#   J at once               projects per minute with J approvals in flight
#   RSS                     clubhost serve's VmRSS before any project and with all N running
#   restart→all 200         from `clubhost serve` started again (after SIGTERM) until every one of
#                           the N routes answered 200 (polled 16 at a time)
#   doctor                  its subnet pool line
#
# Needs: docker, curl, python3, busybox-static (only when the test image must be built). Uses its
# own gateway network on 10.212.0.0/22 (so it does not meet another clubhost's gateway on the
# default 10.213.0.0/22) and removes everything it made on exit, Ctrl-C included, except the shared
# test image clubhost-test-busybox:latest.
set -euo pipefail
exec 3>&2

N=100
J=4
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CARGO_TARGET_DIR:-$REPO/target}/debug/clubhost
while getopts "n:j:b:h" opt; do
    case "$opt" in
        n) N=$OPTARG ;;
        j) J=$OPTARG ;;
        b) BIN=$OPTARG ;;
        h) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
        *) echo "usage: $0 [-n N] [-j J] [-b BIN]" >&2; exit 2 ;;
    esac
done
[[ "$N" =~ ^[1-9][0-9]*$ && "$J" =~ ^[1-9][0-9]*$ ]] || { echo "-n and -j want positive numbers" >&2; exit 2; }
[ -x "$BIN" ] || { echo "pools.sh: $BIN is missing (cargo build, or -b BIN)" >&2; exit 1; }

IMAGE=clubhost-test-busybox:latest
GATEWAY=clubhost-bench-pools-$$
TAG=pools$$

die() { echo "pools.sh: $*" >&3; exit 1; }
now_ns() { date +%s%N; }
ms_since() { echo $(( ($(now_ns) - $1) / 1000000 )); }
for tool in docker curl python3; do command -v "$tool" >/dev/null || die "$tool is not installed"; done
docker info >/dev/null 2>&1 || die "the Docker engine does not answer"

TMP=""
SERVER_PID=""
SLUGS=()
ch() { CLUBHOST_LOG=warn "$BIN" --config "$TMP/clubhost.toml" "$@"; }

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ "$BASHPID" = "$$" ] || exit "$rc"
    [ -n "$TMP" ] || exit "$rc"
    if [ "${#SLUGS[@]}" -gt 0 ] && [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "deleting ${#SLUGS[@]} projects…" >&3
        printf '%s\n' "${SLUGS[@]}" | xargs -P 4 -I{} env CLUBHOST_LOG=warn "$BIN" \
            --config "$TMP/clubhost.toml" project delete {} >>"$TMP/cleanup.log" 2>&1 || true
    fi
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    # Whatever the server could not delete: everything labelled with this run's slugs.
    local ids
    ids=$(docker ps -a --filter "label=clubhost.managed=true" --format '{{.ID}} {{.Label "clubhost.project"}}' \
        | awk -v t="$TAG-" 'index($2, t) == 1 { print $1 }')
    [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
    ids=$(docker network ls --filter "label=clubhost.managed=true" --format '{{.Name}}' | grep "^clubhost-$TAG-" || true)
    [ -z "$ids" ] || docker network rm $ids >/dev/null 2>&1 || true
    docker network rm "$GATEWAY" >/dev/null 2>&1 || true
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
TMP=$(mktemp -d /tmp/clubhost-pools.XXXXXX)

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
    tar -C "$root" -c . | docker import - "$IMAGE" >/dev/null || die "docker import failed"
    rm -rf "$root"
fi

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$TMP/clubhost.toml" <<EOF
data_dir = "$TMP/data"

[proxy]
listen = "127.0.0.1:$PORT"
access_log = false

[docker]
gateway_network = "$GATEWAY"
gateway_subnet = "10.212.0.0/22"
deploy_timeout = "120s"
drain_timeout = "1s"

# One member owns every project.
[lifecycle]
max_running_per_member = 100000
max_memory_per_member = "100000g"
max_cpus_per_member = 100000.0
EOF

serve() {
    CLUBHOST_LOG=info setsid "$BIN" --config "$TMP/clubhost.toml" serve >/dev/null 2>>"$TMP/serve.log" &
    SERVER_PID=$!
    local t0
    t0=$(now_ns)
    until [ -S "$TMP/data/clubhost.sock" ] \
        && [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/portal/")" != 000 ]; do
        kill -0 "$SERVER_PID" 2>/dev/null || die "clubhost serve exited"
        [ "$(ms_since "$t0")" -lt 120000 ] || die "clubhost serve did not come up in 120 s"
        sleep 0.02
    done
}
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$SERVER_PID/status"; }

# Prints the ms from $1 (ns) until every slug on stdin answers 200 with its own page.
all_200_since() {
    python3 - "$1" "$PORT" <<'PY'
import sys, time, http.client
from concurrent.futures import ThreadPoolExecutor
t0_ns, port = int(sys.argv[1]), int(sys.argv[2])
slugs = [l.strip() for l in sys.stdin if l.strip()]
def wait(slug):
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", f"/{slug}/")
            r = c.getresponse()
            body = r.read().decode().strip()
            if r.status == 200 and body == f"pool {slug}":
                return
        except OSError:
            pass
        time.sleep(0.02)
    raise SystemExit(f"/{slug}/ did not answer within 120 s")
with ThreadPoolExecutor(16) as pool:
    list(pool.map(wait, slugs))
print((time.time_ns() - t0_ns) // 1_000_000)
PY
}

serve
RSS_EMPTY=$(rss_kib)
ch user add bench >/dev/null || die "clubhost user add failed"
for ((i = 0; i < N; i++)); do
    slug="$TAG-$i"
    cat >"$TMP/$slug.yml" <<EOF
services:
  web:
    image: $IMAGE
    command: ["sh", "-c", "mkdir -p /www && echo pool $slug > /www/index.html && exec httpd -f -p 8000 -h /www"]
x-clubhost:
  expose: web
  port: 8000
EOF
    ch project submit --owner bench --slug "$slug" --stack "$TMP/$slug.yml" >/dev/null \
        || die "submit $slug failed"
    SLUGS+=("$slug")
done

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
HALF=$((N / 2))
t0=$(now_ns)
for ((i = 0; i < HALF; i++)); do
    ch project approve "$TAG-$i" >/dev/null || die "approve $TAG-$i failed"
done
SEQ_MS=$(ms_since "$t0")
t0=$(now_ns)
seq "$HALF" $((N - 1)) | sed "s/^/$TAG-/" | xargs -P "$J" -I{} env CLUBHOST_LOG=warn "$BIN" \
    --config "$TMP/clubhost.toml" project approve {} >"$TMP/approve.log" 2>&1 \
    || die "a concurrent approve failed: $(grep -i -m3 'fail\|error' "$TMP/approve.log")"
PAR_MS=$(ms_since "$t0")

ANSWER_MS=$(printf '%s\n' "${SLUGS[@]}" | all_200_since "$(now_ns)")
RSS_FULL=$(rss_kib)
DOCTOR=$(ch doctor 2>/dev/null | grep 'subnet pool' || true)
NETWORKS=$(docker network ls -q | wc -l)

kill -TERM "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
t0=$(now_ns)
serve
RESTART_MS=$(printf '%s\n' "${SLUGS[@]}" | all_200_since "$t0")
RSS_RESTARTED=$(rss_kib)
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

per_min() { python3 -c "print(f'{$1 * 60000 / max($2, 1):.1f}')"; }
echo
echo "$("$BIN" --version), Docker $(docker version --format '{{.Server.Version}}'), $(nproc) cores; N=$N, J=$J"
printf '%-34s %s\n' "sequential approve ($HALF)" "$SEQ_MS ms, $(per_min "$HALF" "$SEQ_MS") projects/min"
printf '%-34s %s\n' "$J at once ($((N - HALF)))" "$PAR_MS ms, $(per_min $((N - HALF)) "$PAR_MS") projects/min"
printf '%-34s %s\n' "all $N answering (check)" "$ANSWER_MS ms"
printf '%-34s %s\n' "RSS empty / $N running / restarted" "$RSS_EMPTY / $RSS_FULL / $RSS_RESTARTED KiB"
printf '%-34s %s\n' "restart -> all $N answer 200" "$RESTART_MS ms"
printf '%-34s %s\n' "Docker networks on the engine" "$NETWORKS"
printf '%-34s %s\n' "doctor" "$DOCTOR"
