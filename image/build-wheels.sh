#!/usr/bin/env bash
# Build the wheels the pitwall role installs: pitwall itself plus every dependency, for
# the target's CPU, into build/wheels/ARCH. The Pi installs them with pip --no-index.
#
#   image/build-wheels.sh arm64    # the Pi (CPython 3.11, Debian bookworm's Python)
#   image/build-wheels.sh amd64    # the converge test's root on this machine
#
# Pure-Python packages (and sdists, which pip builds here) are the same for every
# machine; compiled ones (msgspec, lgpio, uvloop, ...) are downloaded as manylinux
# wheels for the target instead: nothing is compiled under emulation.
set -euo pipefail

arch=${1:?usage: build-wheels.sh amd64|arm64}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
pip=${PIP:-$repo/.venv/bin/pip}
out=${2:-$repo/build/wheels/$arch}
extras=${PITWALL_EXTRAS-pi}
spec="$repo/services${extras:+[$extras]}"

mkdir -p "$out"
rm -f "$out"/pitwall-*.whl  # always this checkout's code
case "$arch" in
amd64)
    "$pip" wheel --quiet --disable-pip-version-check --wheel-dir "$out" "$spec" ;;
arm64)
    pure=$(mktemp -d)
    trap 'rm -rf "$pure"' EXIT
    # Everything that is (or builds into) a py3-none-any wheel, built on this machine.
    "$pip" wheel --quiet --disable-pip-version-check --wheel-dir "$pure" "$spec"
    cp "$pure"/*-none-any.whl "$out"/
    # Compiled dependencies: the same versions as aarch64 manylinux wheels from PyPI
    # (bookworm: glibc 2.36). By exact pin and --no-deps: the name "pitwall" itself is
    # never looked up on PyPI (another project uses it there).
    pins=()
    for whl in "$pure"/*.whl; do
        case "$whl" in *-none-any.whl) continue ;; esac
        base=$(basename "$whl")
        pins+=("$(echo "$base" | cut -d- -f1)==$(echo "$base" | cut -d- -f2)")
    done
    platforms=()
    for p in manylinux2014_aarch64 manylinux_2_17_aarch64 manylinux_2_28_aarch64 \
             manylinux_2_31_aarch64 manylinux_2_34_aarch64 manylinux_2_35_aarch64 \
             manylinux_2_36_aarch64 linux_aarch64; do
        platforms+=(--platform "$p")
    done
    "$pip" download --quiet --disable-pip-version-check --dest "$out" --no-deps \
        --only-binary=:all: --implementation cp --python-version 3.11 "${platforms[@]}" \
        "${pins[@]}" ;;
*)
    echo "error: unknown architecture $arch (amd64 or arm64)" >&2; exit 2 ;;
esac
echo "$(ls "$out"/*.whl | wc -l) wheels in $out" >&2
