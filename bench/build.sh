#!/bin/sh
# Build time through clubhost (the deployer's path: the context's tar, then the engine's classic
# builder with [build]'s default limits: 2 GiB memory, 1 CPU, network on) against `docker build`
# (classic builder too: DOCKER_BUILDKIT=0) of the same context on the same engine, twice: with
# the same limits (`--memory 2g --memory-swap 2g --cpu-quota 100000`: the cost of clubhost's own
# path) and without any (what the limits cost).
#
# The context is FROM scratch around Debian's static busybox (no registry is reachable) with a
# RUN step that keeps one CPU busy for a few seconds and a 20 MB file to send. Each build gets a
# fresh NONCE build argument, so every step after it runs again. Runs alternate which tool goes
# first; the script prints each time and the medians.
#
#   bench/build.sh          # 5 runs each
#   bench/build.sh -n 9     # 9 runs each
set -eu
runs=5
[ "${1:-}" = "-n" ] && runs=$2
root=$(cd "$(dirname "$0")/.." && pwd)
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp /bin/busybox "$ctx/busybox"
head -c 20000000 /dev/urandom > "$ctx/payload.bin"
cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY payload.bin /payload.bin
ARG NONCE
RUN echo "$NONCE" > /nonce && i=0 && while [ $i -lt 300000 ]; do i=$((i+1)); done && sha256sum /payload.bin > /sum
DOCKERFILE
cd "$root"
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target} cargo build -q --release -p clubhost-deploy --example build_bench
bin=${CARGO_TARGET_DIR:-target}/release/examples/build_bench
c=""; d=""; l=""
i=0
while [ $i -lt "$runs" ]; do
    one_docker() {
        s=$(date +%s.%N)
        DOCKER_BUILDKIT=0 docker build -q --build-arg NONCE="docker-$$-$i" -t clubhost-bench/docker:$i "$ctx" >/dev/null
        e=$(date +%s.%N)
        docker rmi clubhost-bench/docker:$i >/dev/null
        d="$d $(echo "$e - $s" | bc)"
    }
    one_limited() {
        s=$(date +%s.%N)
        DOCKER_BUILDKIT=0 docker build -q --memory 2g --memory-swap 2g --cpu-period 100000 \
            --cpu-quota 100000 --build-arg NONCE="limited-$$-$i" -t clubhost-bench/limited:$i "$ctx" >/dev/null
        e=$(date +%s.%N)
        docker rmi clubhost-bench/limited:$i >/dev/null
        l="$l $(echo "$e - $s" | bc)"
    }
    one_clubhost() { c="$c $("$bin" "$ctx" 1 | sed "s/^/ /")"; }
    if [ $((i % 2)) -eq 0 ]; then one_clubhost; one_limited; one_docker; else one_docker; one_limited; one_clubhost; fi
    i=$((i + 1))
done
median() { echo "$@" | tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "clubhost build (s):    $c"
echo "docker, same limits:   $l"
echo "docker, no limits:     $d"
mc=$(median $c); ml=$(median $l); md=$(median $d)
echo "median clubhost ${mc}s; docker same limits ${ml}s (ratio $(echo "scale=3; $mc / $ml" | bc)); docker no limits ${md}s (ratio $(echo "scale=3; $mc / $md" | bc))"
