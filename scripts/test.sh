#!/usr/bin/env bash
# The one test command (README "Test it", and what .ci/run calls): installs what the tests need
# when it is missing, then runs `cargo test --locked` with any arguments given
# (`scripts/test.sh --test it portal_`). Safe to run again: it installs nothing that is there.
#
# What the tests need besides a Docker engine and a Rust toolchain, all Debian packages:
#   busybox-static   the test image is built FROM scratch around its /bin/busybox (nothing is pulled)
#   chromium, chromium-driver   the real-browser portal tests
#   fonts-nanum      Korean glyphs, so the Korean pages' widths and screenshots are real text
#   openssl          the notification tests make their test CA with it
#   pebble           an offline ACME server for the certificate tests
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

command -v cargo >/dev/null || {
    echo "scripts/test.sh: cargo is missing; install a Rust toolchain (rustup) first" >&2
    exit 1
}
docker info >/dev/null 2>&1 || {
    echo "scripts/test.sh: no Docker engine answers (is dockerd running, and may this user use it?)" >&2
    exit 1
}

missing=()
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
dpkg -s fonts-nanum >/dev/null 2>&1 || missing+=(fonts-nanum)
command -v openssl >/dev/null || missing+=(openssl)
command -v pebble >/dev/null || missing+=(pebble)
command -v restic >/dev/null || missing+=(restic)

if [ "${#missing[@]}" -gt 0 ]; then
    echo "scripts/test.sh: installing ${missing[*]}"
    sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

exec cargo test --locked "$@"
