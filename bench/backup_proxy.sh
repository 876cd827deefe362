#!/bin/sh
# bench/backup_proxy.sh: the proxy's latency for one project while ANOTHER project is backed up,
# against the same run with no backup (issue 18: within 10 %). `serve` runs; project `quiet`
# serves a small page, project `busy` holds a volume of SIZE_MIB (default 512) MiB. wrk keeps C
# connections (default 20) on quiet's page for D seconds (default 20): once alone, then while
# `clubhost backup create busy` runs back to back. Prints wrk's latency lines for both.
#   bench/backup_proxy.sh [-d SECONDS] [-c CONNECTIONS] [-s SIZE_MIB] [-b BINARY]
# Uses the debug build unless -b names a binary; the image is built from Debian's static busybox.
set -eu
DURATION=20
CONNS=20
SIZE=512
BIN=${CARGO_TARGET_DIR:-target}/debug/clubhost
while getopts d:c:s:b: o; do
    case $o in
        d) DURATION=$OPTARG ;;
        c) CONNS=$OPTARG ;;
        s) SIZE=$OPTARG ;;
        b) BIN=$OPTARG ;;
        *) exit 2 ;;
    esac
done
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
IMAGE=clubhost-bench-busybox-proxy:latest
WORK=$(mktemp -d)
QUIET=bkquiet$$
BUSY=bkbusy$$
SERVER=
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    for s in $QUIET $BUSY; do
        for c in $(docker ps -aq --filter label=clubhost.project=$s); do docker rm -f "$c" >/dev/null; done
        for v in $(docker volume ls -q --filter label=clubhost.project=$s); do docker volume rm -f "$v" >/dev/null; done
        for n in $(docker network ls -q --filter label=clubhost.project=$s); do docker network rm "$n" >/dev/null; done
    done
    docker network rm clubhost-bench-bkproxy-$$ >/dev/null 2>&1 || true
    docker rmi -f $IMAGE >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

root=$WORK/root
mkdir -p "$root/bin" "$root/tmp"
cp /bin/busybox "$root/bin/"
for a in sh httpd dd mkdir cat sleep; do ln -s busybox "$root/bin/$a"; done
tar -C "$root" -c . | docker import - $IMAGE >/dev/null

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/clubhost.toml" <<TOML
domain = "127.0.0.1"
data_dir = "$WORK/data"
[proxy]
listen = "127.0.0.1:$PORT"
access_log = false
[docker]
gateway_network = "clubhost-bench-bkproxy-$$"
# Its own gateway and pool, clear of the tests' and other benches'.
subnet_pool = "10.215.0.0/16"
gateway_subnet = "10.215.0.0/22"
[backup]
schedule = false
TOML
stack() {
    cat <<YAML
services:
  web:
    image: $IMAGE
    command: ["sh", "-c", "mkdir -p /data && echo quiet-page > /data/index.html && exec httpd -f -p 8000 -h /data"]
    volumes: [data:/data]
volumes:
  data:
x-clubhost: {expose: web, port: 8000}
YAML
}
stack > "$WORK/stack.yml"
ch() { CLUBHOST_LOG=warn "$BIN" --config "$WORK/clubhost.toml" "$@"; }
CLUBHOST_LOG=warn "$BIN" --config "$WORK/clubhost.toml" serve 2>"$WORK/serve.log" &
SERVER=$!
i=0
until curl -s -o /dev/null "http://127.0.0.1:$PORT/"; do
    i=$((i + 1)); [ $i -gt 600 ] && { cat "$WORK/serve.log"; exit 1; }; sleep 0.1
done
ch user add bench >/dev/null
for s in $QUIET $BUSY; do
    ch project submit --owner bench --slug $s --stack "$WORK/stack.yml" >/dev/null
    ch project approve $s >/dev/null
done
C=$(docker ps -q --filter label=clubhost.project=$BUSY | head -1)
docker exec "$C" sh -c "dd if=/dev/urandom of=/data/big bs=1M count=$SIZE 2>/dev/null"
URL=http://127.0.0.1:$PORT/$QUIET/
curl -sf "$URL" | grep -q quiet-page

run_wrk() { wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$URL" | sed -n '/Latency Distribution/,/requests in/p'; }
sync
echo "== $QUIET alone (${DURATION}s, $CONNS connections)"
run_wrk
echo "== $QUIET while $BUSY ($SIZE MiB) is backed up, back to back"
(
    end=$(($(date +%s) + DURATION + 2))
    n=0
    while [ "$(date +%s)" -lt $end ]; do
        ch backup create $BUSY >/dev/null; n=$((n + 1)); rm -rf "$WORK/data/backups/$BUSY-"*
    done
    echo "backups taken during the run: $n" > "$WORK/backups.txt"
) &
LOOP=$!
sleep 1
run_wrk
wait $LOOP
cat "$WORK/backups.txt"
