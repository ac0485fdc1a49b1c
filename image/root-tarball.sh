#!/usr/bin/env bash
# Print the path of a Debian bookworm root tarball for ARCH with the roles' packages
# (and any EXTRA packages), building it with mmdebstrap when it is not cached yet.
#
#   image/root-tarball.sh amd64                 # the converge test's root
#   image/root-tarball.sh arm64 linux-image-arm64 raspi-firmware ...   # the image's root
#
# The cache (${PITWALL_CACHE:-~/.cache/pitwall}/roots) is keyed by architecture, package
# list, mirror and this script, so a changed role package list builds a fresh root and an
# unchanged one costs nothing. Progress goes to stderr; only the path goes to stdout.
set -euo pipefail

arch=${1:?usage: root-tarball.sh ARCH [EXTRA_PACKAGE...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-$here/../.venv/bin/python}
cache=${PITWALL_CACHE:-${HOME:-/root}/.cache/pitwall}/roots
# The mirror apt already uses on this machine (a local mirror keeps builds offline).
mirror=${PITWALL_MIRROR:-$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)}
mirror=${mirror:-http://deb.debian.org/debian}
security=${PITWALL_SECURITY_MIRROR:-${mirror%/debian}/debian-security}

packages=$("$python" "$here/role_packages.py" "$@" | paste -sd, -)
key=$(printf '%s\n' "$arch" "$packages" "$mirror" "$(cat "$0"; find "$here/hooks" -type f | sort | xargs cat)" \
      | sha256sum | cut -c1-16)
tarball=$cache/bookworm-$arch-$key.tar

if [ ! -s "$tarball" ]; then
    command -v mmdebstrap >/dev/null || { echo "error: mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 1; }
    mkdir -p "$cache"
    echo "Building the $arch root with mmdebstrap (cached afterwards as $tarball)..." >&2
    start=$SECONDS
    # Docs, man pages and translations are never read on the appliance: leave them out.
    mmdebstrap --variant=minbase --arch="$arch" --format=tar \
        --components=main,non-free-firmware --include="$packages" \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --setup-hook='[ ! -d "'"$here"'/hooks/setup" ] || cp -r "'"$here"'/hooks/setup/." "$1/"' \
        bookworm "$tarball.part" \
        "deb $mirror bookworm main non-free-firmware" \
        "deb $mirror bookworm-updates main non-free-firmware" \
        "deb $security bookworm-security main non-free-firmware" >&2
    mv "$tarball.part" "$tarball"
    echo "Root built in $((SECONDS - start)) s." >&2
fi
echo "$tarball"
