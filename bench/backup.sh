#!/bin/sh
# bench/backup.sh: how long `clubhost backup create` takes on a volume of SIZE_MIB (default 1024)
# MiB against the plain way, `docker run --rm -v VOL:/d IMAGE tar -c -C /d .` into a file, on the
# same volume, alternating which goes first. Uses the debug build unless -b names a binary.
#   bench/backup.sh [-n RUNS] [-s SIZE_MIB] [-b BINARY]
# The image is built locally from Debian's static busybox (no registry is reachable).
set -eu
RUNS=3
SIZE=1024
BIN=${CARGO_TARGET_DIR:-target}/debug/clubhost
while getopts n:s:b: o; do
    case $o in
        n) RUNS=$OPTARG ;;
        s) SIZE=$OPTARG ;;
        b) BIN=$OPTARG ;;
        *) exit 2 ;;
    esac
done
IMAGE=clubhost-bench-busybox:latest
WORK=$(mktemp -d)
SLUG=bkbench$$
trap 'for c in $(docker ps -aq --filter label=clubhost.project=$SLUG); do docker rm -f $c >/dev/null; done;
      docker volume rm -f clubhost-$SLUG-data >/dev/null 2>&1 || true;
      docker network rm clubhost-$SLUG >/dev/null 2>&1 || true;
      docker network rm clubhost-bench-backup-$$ >/dev/null 2>&1 || true;
      docker rmi -f $IMAGE >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

root=$WORK/root
mkdir -p "$root/bin" "$root/tmp"
cp /bin/busybox "$root/bin/"
for a in sh httpd tar dd mkdir cat sleep; do ln -s busybox "$root/bin/$a"; done
tar -C "$root" -c . | docker import - $IMAGE >/dev/null

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/clubhost.toml" <<TOML
domain = "club.example"
data_dir = "$WORK/data"
[proxy]
listen = "127.0.0.1:$PORT"
[docker]
gateway_network = "clubhost-bench-backup-$$"
# Its own gateway and pool, clear of the tests' and other benches' (10.213/16, 10.212/22).
subnet_pool = "10.214.0.0/16"
gateway_subnet = "10.214.0.0/22"
[backup]
schedule = false
TOML
cat > "$WORK/stack.yml" <<YAML
services:
  web:
    image: $IMAGE
    command: ["sh", "-c", "mkdir -p /data && exec httpd -f -p 8000 -h /data"]
    volumes: [data:/data]
volumes:
  data:
x-clubhost: {expose: web, port: 8000}
YAML
ch() { "$BIN" --config "$WORK/clubhost.toml" "$@"; }
ch user add bench >/dev/null
ch project submit --owner bench --slug $SLUG --stack "$WORK/stack.yml" >/dev/null
ch project approve $SLUG >/dev/null
C=$(docker ps -q --filter label=clubhost.project=$SLUG | head -1)
# Files of several sizes adding up to SIZE MiB: half in one file, the rest in 1 MiB files.
docker exec "$C" sh -c "dd if=/dev/urandom of=/data/big bs=1M count=$((SIZE / 2)) 2>/dev/null;
  i=0; while [ \$i -lt $((SIZE - SIZE / 2)) ]; do dd if=/dev/urandom of=/data/f\$i bs=1M count=1 2>/dev/null; i=\$((i+1)); done"

now() { date +%s.%N; }
plain() {
    t=$(now)
    docker run --rm -v clubhost-$SLUG-data:/d $IMAGE tar -c -C /d . > "$WORK/plain.tar"
    echo "$(now) - $t" | bc
}
ours() {
    t=$(now)
    ch backup create $SLUG >/dev/null
    echo "$(now) - $t" | bc
}
i=1
while [ $i -le "$RUNS" ]; do
    sync
    if [ $((i % 2)) -eq 1 ]; then a=$(ours); b=$(plain); else b=$(plain); a=$(ours); fi
    echo "run $i: clubhost backup create ${a}s  docker run tar ${b}s  (${SIZE} MiB)"
    rm -f "$WORK/plain.tar"
    rm -rf "$WORK/data/backups/$SLUG-"*
    i=$((i + 1))
done
