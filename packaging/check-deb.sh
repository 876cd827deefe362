#!/bin/sh
# Builds the Debian package and inspects it: what it installs, its conffile, its unit and
# maintainer scripts, and lintian (no errors allowed). Needs cargo-deb (`cargo install cargo-deb`)
# and lintian (`apt-get install lintian`); `.ci/run` installs both and runs it after the tests.
# Usage: packaging/check-deb.sh [path/to/clubhost.deb]   (without a path it runs `cargo deb`)
set -eu
cd "$(dirname "$0")/.."

deb=${1:-}
if [ -z "$deb" ]; then
    deb=$(cargo deb | tail -n 1)
fi
echo "checking $deb"

contents=$(dpkg-deb --contents "$deb")
for path in ./usr/bin/clubhost ./etc/clubhost/clubhost.toml \
    ./usr/share/doc/clubhost/security.md ./usr/share/doc/clubhost/CHANGELOG.md; do
    echo "$contents" | grep -q " $path\$" || { echo "missing $path in $deb"; exit 1; }
done
echo "$contents" | grep -Eq ' \./(usr/)?lib/systemd/system/clubhost\.service$' \
    || { echo "missing the systemd unit in $deb"; exit 1; }
echo "$contents" | grep -Eq -- '^-rw-r----- (root/root|0/0) .* \./etc/clubhost/clubhost\.toml$' \
    || { echo "the config is not 0640 in $deb"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb --control "$deb" "$work"
grep -qx /etc/clubhost/clubhost.toml "$work/conffiles" \
    || { echo "/etc/clubhost/clubhost.toml is not a conffile"; exit 1; }
grep -q 'adduser --system' "$work/postinst" || { echo "postinst makes no user"; exit 1; }

lintian --fail-on error --suppress-tags-from-file /dev/null "$deb"
echo "ok: $deb"
