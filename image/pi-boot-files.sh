#!/usr/bin/env bash
# Make an arm64 Debian root folder bootable on a Raspberry Pi (and in QEMU):
# mount table by partition label, kernel command line, and the boot partition's files.
#
#   image/pi-boot-files.sh ROOT
#
# Debian's raspi-firmware package already copied the firmware, device trees, kernel and
# initramfs to ROOT/boot/firmware (its kernel hook runs in a chroot) and wrote config.txt.
# Here the root is named by label (RASPIROOT, as Debian's own Pi images do), so the same
# image boots from an SD card (mmcblk0p2) and a QEMU virtio disk (vda2).
set -euo pipefail

root=${1:?usage: pi-boot-files.sh ROOT}
fw=$root/boot/firmware
mkdir -p "$fw"

cat > "$root/etc/fstab" <<'EOF2'
# Pitwall image (image/pi-boot-files.sh). Partitions by label: SD card or QEMU alike.
LABEL=RASPIROOT  /               ext4  defaults,noatime,commit=60  0 1
LABEL=RASPIFIRM  /boot/firmware  vfat  defaults,noatime            0 2
EOF2

# Future kernel updates on the Pi regenerate cmdline.txt from this.
if [ -f "$root/etc/default/raspi-firmware" ]; then
    sed -i 's|^#\?ROOTPART=.*|ROOTPART=LABEL=RASPIROOT|' "$root/etc/default/raspi-firmware"
    grep -q '^ROOTPART=' "$root/etc/default/raspi-firmware" \
        || echo 'ROOTPART=LABEL=RASPIROOT' >> "$root/etc/default/raspi-firmware"
fi

# The kernel and initramfs, in case the firmware hook did not put them there.
for f in "$root"/boot/vmlinuz-* "$root"/boot/initrd.img-*; do
    [ -e "$f" ] && [ ! -e "$fw/$(basename "$f")" ] && cp "$f" "$fw/"
done
ls "$fw"/vmlinuz-* "$fw"/initrd.img-* >/dev/null \
    || { echo "error: no kernel or initramfs in $root/boot" >&2; exit 1; }

echo "console=serial0,115200 console=tty1 root=LABEL=RASPIROOT rw rootwait fsck.repair=yes net.ifnames=0" \
    > "$fw/cmdline.txt"
if [ ! -f "$fw/config.txt" ]; then
    kernel=$(cd "$fw" && ls vmlinuz-* | sort | tail -1)
    initrd=$(cd "$fw" && ls initrd.img-* | sort | tail -1)
    printf 'arm_64bit=1\nenable_uart=1\nupstream_kernel=1\nkernel=%s\ninitramfs %s followkernel\n' \
        "$kernel" "$initrd" > "$fw/config.txt"
fi
echo "Boot files: $(ls "$fw" | wc -l) files in /boot/firmware" >&2
