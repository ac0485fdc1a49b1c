#!/usr/bin/env bash
# Install the Debian packages `make image` and `make boot-test` need (not `make test`):
# arm64 emulation, the FAT and partition tools, xz, and QEMU's system emulator.
# Idempotent: does nothing when everything is present.
set -euo pipefail

need=()
for pkg in mmdebstrap arch-test qemu-user-static binfmt-support mtools dosfstools fdisk \
           e2fsprogs xz-utils qemu-system-arm curl; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
[ "$(id -u)" -eq 0 ] || { echo "error: need root to install: ${need[*]}" >&2; exit 1; }
echo "Installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
