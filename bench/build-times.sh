#!/usr/bin/env bash
# Build times of the workspace: a clean `cargo build`, then the rebuild after editing one portal
# template and after editing one proxy file (each edit reverted afterwards), with the crates each
# rebuild recompiles. Compare two commits by running it in a checkout of each.
#
#   bench/build-times.sh [TARGET_DIR]     (default: a fresh directory under /tmp, removed after)
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-$(mktemp -d /tmp/clubhost-build-times.XXXXXX)}
export CARGO_TARGET_DIR=$target
proxy_file=crates/proxy/src/pages.rs
[ -f "$proxy_file" ] || proxy_file=src/proxy/pages.rs   # before the workspace of crates
template=web/templates/account.html

timed() { # label
    local start end
    start=$(date +%s.%N)
    local crates
    crates=$(cargo build 2>&1 | sed -n 's/^ *Compiling \(clubhost[a-z-]*\).*/\1/p' | tr '\n' ' ')
    end=$(date +%s.%N)
    printf '%-42s %6.1f s  %s\n' "$1" "$(echo "$end - $start" | bc)" "${crates:-(none)}"
}

trap 'git checkout -q -- "$template" "$proxy_file"; [ -n "${1:-}" ] || rm -rf "$target"' EXIT
timed "clean cargo build"
echo "<!-- build-times -->" >> "$template"
timed "after editing a portal template"
git checkout -q -- "$template"
echo "pub(crate) const _BUILD_TIMES: u8 = 0;" >> "$proxy_file"
timed "after editing a proxy file"
git checkout -q -- "$proxy_file"
timed "after reverting"
