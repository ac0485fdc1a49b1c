#!/usr/bin/env bash
# Prove a built image boots: start it in QEMU (arm64 "virt" machine, the image's own
# kernel and initramfs from its FAT partition), wait for multi-user.target on the serial
# console, then ask the API for /api/health through a port forward.
#
#   image/boot-test.sh [build/image/pitwall-YYYYMMDD.img.xz]   (default: the newest)
#
# The disk is a copy, 1 GiB larger than the image, so first boot's root growing is
# exercised too. Exit status 0 only when both checks pass; the console log is kept.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
image=${1:-$(ls -t "$repo"/build/image/*.img.xz 2>/dev/null | head -1)}
[ -n "$image" ] && [ -f "$image" ] || { echo "error: no image: run make image first" >&2; exit 1; }
boot_timeout=${BOOT_TIMEOUT:-900}
port=${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
for tool in qemu-system-aarch64 mcopy mdir curl xz; do
    command -v "$tool" >/dev/null || { echo "error: $tool is missing: image/install-image-deps.sh" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/var/tmp}/pitwall-boot.XXXXXX")
log=${LOG:-$repo/build/image/boot-test.log}
qemu_pid=""
cleanup() {
    if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
        kill "$qemu_pid"; wait "$qemu_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "==> Unpacking $image"
disk=$work/disk.img
xz -dc -T0 "$image" > "$disk"
truncate -s +1G "$disk"
boot_start=$(sfdisk -d "$disk" | sed -n 's/.*1 : start= *\([0-9]*\),.*/\1/p')
fat="$disk@@$((boot_start * 512))"
kernel=$(mdir -b -i "$fat" :: | sed -n 's|^::/||p' | grep '^vmlinuz-' | sort | tail -1)
initrd=$(mdir -b -i "$fat" :: | sed -n 's|^::/||p' | grep '^initrd.img-' | sort | tail -1)
[ -n "$kernel" ] && [ -n "$initrd" ] || { echo "error: no vmlinuz/initrd.img on the boot partition" >&2; exit 1; }
mcopy -i "$fat" "::$kernel" "$work/vmlinuz"
mcopy -i "$fat" "::$initrd" "$work/initrd.img"

echo "==> Booting $kernel in QEMU (console: $log, API forwarded to 127.0.0.1:$port)"
mkdir -p "$(dirname "$log")"
: > "$log"  # empty it now: QEMU truncates it only once it runs, after our first look
start=$SECONDS
# QEMU has no Wi-Fi: Debian's kernel simulates radios (mac80211_hwsim), so wlan0 exists and
# the hotspot's units start as on a Pi instead of waiting for a device that never comes.
radio="modules-load=mac80211_hwsim"
qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 1024 -nographic \
    -kernel "$work/vmlinuz" -initrd "$work/initrd.img" \
    -append "root=LABEL=RASPIROOT rw rootwait console=ttyAMA0 net.ifnames=0 $radio" \
    -drive "file=$disk,format=raw,if=virtio" \
    -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$port-:80" -device virtio-net-device,netdev=net0 \
    -serial "file:$log" -monitor none -display none </dev/null &
qemu_pid=$!

wait_for() {  # wait_for WHAT COMMAND...
    local what=$1; shift
    until "$@"; do
        kill -0 "$qemu_pid" 2>/dev/null || { echo "FAIL: QEMU exited before $what" >&2; tail -30 "$log" >&2; exit 1; }
        if [ $((SECONDS - start)) -gt "$boot_timeout" ]; then
            echo "FAIL: no $what within $boot_timeout s" >&2; tail -30 "$log" >&2; exit 1
        fi
        sleep 3
    done
    echo "ok: $what after $((SECONDS - start)) s"
}
wait_for "multi-user.target" grep -qsa "Reached target.*Multi-User System" "$log"
wait_for "an answer from /api/health" curl -fsS --max-time 5 -o "$work/health.json" "http://127.0.0.1:$port/api/health"
echo "    /api/health: $(cat "$work/health.json")"
grep -a "pitwall-firstboot" "$log" | tail -5 || true
echo "PASS: the image boots and the API answers"
