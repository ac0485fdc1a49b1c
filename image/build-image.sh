#!/usr/bin/env bash
# Build the Pitwall SD-card image: an arm64 .img.xz a club flashes and boots.
#
#   image/build-image.sh                       # from Debian bookworm packages alone
#   BASE=raspios-lite-arm64.img.xz image/build-image.sh   # customise Raspberry Pi OS Lite
#
# From scratch: mmdebstrap builds an arm64 root under qemu-user (cached, see
# root-tarball.sh), the playbook provisions it through the chroot connection, the FAT boot
# partition is written with mtools (no VFAT mount needed) and the root partition is made
# from the folder (mkfs.ext4 -d). With BASE, the official image's root partition is grown
# by BASE_GROW_MB (1024), loop-mounted, prepared for apt (chroot-env.sh), the same playbook
# runs in it, and pitwall.txt is copied onto its FAT partition.
# Writes build/image/pitwall-<date>.img.xz, its checksum and a Raspberry Pi Imager entry.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
out=${OUT:-$repo/build/image}
base=${BASE:-}
boot_mb=${BOOT_MB:-256}
grow_mb=${BASE_GROW_MB:-1024}  # BASE: room added to the root for Pitwall's packages
name=pitwall-$(date -u +%Y%m%d)
# A customised base keeps its own name in the result's: pitwall-DATE-on-raspios-….img.xz
[ -z "$base" ] || name=$name-on-$(basename "$base" | sed 's/\.xz$//; s/\.img$//')
started=$SECONDS
step=0
say() { step=$((step + 1)); printf '\n==> [%d] %s (%d s)\n' "$step" "$*" "$((SECONDS - started))"; }
die() { echo "error: $*" >&2; exit 1; }
. "$here/chroot-env.sh"

# --- can we build here? --------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "building an image needs root (chroot, device nodes, loop mounts): run with sudo"
if [ "$(uname -m)" != aarch64 ]; then
    [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
    grep -qs '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 || update-binfmts --enable qemu-aarch64 2>/dev/null || true
    grep -qs '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 || die "arm64 programs cannot run here:
  binfmt_misc has no enabled qemu-aarch64 handler. Install qemu-user-static and binfmt-support
  (image/install-image-deps.sh), then: update-binfmts --enable qemu-aarch64"
fi
for tool in mmdebstrap mkfs.vfat mcopy mkfs.ext4 sfdisk losetup resize2fs xz sha256sum; do
    command -v "$tool" >/dev/null || die "$tool is missing: run image/install-image-deps.sh"
done
[ -x "$repo/.venv/bin/ansible-playbook" ] || die "Ansible is missing: make setup, then pip install ansible==12.3.0"

work=$(mktemp -d "${TMPDIR:-/var/tmp}/pitwall-image.XXXXXX")
mnt=""
loop=""
cleanup() {
    if [ -n "$mnt" ] && mountpoint -q "$mnt"; then
        chroot_leave "$mnt"
        umount "$mnt"
    fi
    if [ -n "$loop" ]; then losetup -d "$loop"; fi
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$out"

say "Building the arm64 wheels (pitwall and its dependencies)"
"$here/build-wheels.sh" arm64 2> >(grep -v '^WARNING: Location' >&2)

playbook() {  # playbook ROOT_FOLDER
    # KIOSK=1: the optional kiosk role too (the TV board on the Pi's HDMI screen, docs/kiosk.md)
    local kiosk=()
    if [ "${KIOSK:-0}" = 1 ]; then kiosk=(-e kiosk_enabled=true); fi
    (cd "$repo/ansible" && PITWALL_ROOT="$1" PITWALL_ARCH=arm64 \
        "$repo/.venv/bin/ansible-playbook" -i inventories/image site.yml "${kiosk[@]}")
}

if [ -n "$base" ]; then
    # --- customise an official Raspberry Pi OS Lite image --------------------------------
    [ -f "$base" ] || die "BASE=$base: no such file"
    say "Unpacking $base"
    img=$work/$name.img
    case "$base" in *.xz) xz -dc -T0 "$base" > "$img" ;; *) cp --sparse=always "$base" "$img" ;; esac
    # Partition 1 is FAT (boot), partition 2 ext4 (root) and the last, as Pi OS ships them.
    parts=$(sfdisk -d "$img")
    boot_start=$(sed -n 's/.*1 : start= *\([0-9]*\),.*/\1/p' <<<"$parts")
    root_start=$(sed -n 's/.*2 : start= *\([0-9]*\),.*/\1/p' <<<"$parts")
    [ -n "$boot_start" ] && [ -n "$root_start" ] || die "$base: no FAT and root partitions (is it Raspberry Pi OS?)"
    ! grep -q '3 : start=' <<<"$parts" || die "$base: the root is not the last partition"
    say "Growing the root partition by $grow_mb MB (room for Pitwall's packages)"
    truncate -s +"${grow_mb}M" "$img"
    echo ', +' | sfdisk --quiet --no-reread -N 2 "$img"
    loop=$(losetup --find --show --offset $((root_start * 512)) "$img")
    e2fsck -pf "$loop" >/dev/null || [ $? -le 1 ] || die "$base: its root filesystem has errors"
    resize2fs -p "$loop" 2>&1 | tail -1
    say "Provisioning the root partition with the playbook"
    mnt=$work/root
    mkdir -p "$mnt"
    mount "$loop" "$mnt"
    chroot_enter "$mnt"
    mkdir -p "$mnt/boot/firmware"
    playbook "$mnt"
    chroot_leave "$mnt"
    settings_txt=$work/pitwall.txt
    cp "$mnt/boot/firmware/pitwall.txt" "$settings_txt"
    rm -f "$mnt/boot/firmware/pitwall.txt"
    umount "$mnt"
    mnt=""
    losetup -d "$loop"
    loop=""
    say "Adding pitwall.txt to the boot partition (mtools)"
    mcopy -o -i "$img@@$((boot_start * 512))" "$settings_txt" ::pitwall.txt
else
    # --- from Debian packages ---------------------------------------------------------------
    say "Building (or reusing) the arm64 Debian root: kernel, Pi firmware, roles' packages"
    # KIOSK=1 adds the kiosk role's packages (cage, Chromium: see role_packages.py).
    tarball=$(PITWALL_ROLES=$([ "${KIOSK:-0}" != 1 ] || echo kiosk) \
        "$here/root-tarball.sh" arm64 $(grep -v '^#' "$here/image-packages.txt"))
    root=$work/root
    mkdir -p "$root"
    tar -xf "$tarball" -C "$root"
    say "Provisioning the root with the playbook (chroot)"
    "$here/pi-boot-files.sh" "$root"
    playbook "$root"

    say "Writing the FAT boot partition with mtools"
    boot=$work/boot.img
    mkfs.vfat -C -F 32 -n RASPIFIRM "$boot" $((boot_mb * 1024)) >/dev/null
    mcopy -s -i "$boot" "$root"/boot/firmware/* ::
    find "$root/boot/firmware" -mindepth 1 -delete  # mounted there at boot

    say "Writing the ext4 root partition from the folder"
    rootfs=$work/root.img
    # Room for the first boot; the partition grows to the whole card on first boot.
    root_mb=$(( $(du -sm "$root" | cut -f1) * 13 / 10 + 200 ))
    mkfs.ext4 -q -L RASPIROOT -d "$root" "$rootfs" "${root_mb}M"
    rm -rf "$root"

    say "Assembling the disk image"
    img=$work/$name.img
    start_mb=4
    truncate -s $(( (start_mb + boot_mb + root_mb) * 1024 * 1024 )) "$img"
    sfdisk --quiet "$img" <<EOF
label: dos
start=${start_mb}MiB, size=${boot_mb}MiB, type=c, bootable
start=$((start_mb + boot_mb))MiB, type=83
EOF
    dd if="$boot" of="$img" bs=1M seek=$start_mb conv=notrunc,sparse status=none
    dd if="$rootfs" of="$img" bs=1M seek=$((start_mb + boot_mb)) conv=notrunc,sparse status=none
    rm -f "$boot" "$rootfs"
fi

say "Compressing (xz)"
raw_size=$(stat -c %s "$img")
raw_sha=$(sha256sum "$img" | cut -d' ' -f1)
xz -T0 -6 -v -f "$img"
mv "$img.xz" "$out/$name.img.xz"
final=$out/$name.img.xz
(cd "$out" && sha256sum "$name.img.xz" > "$name.img.xz.sha256")
"$here/imager-json.py" --image "$final" --raw-size "$raw_size" --raw-sha256 "$raw_sha" \
    > "$out/$name.json"

printf '\nImage:    %s\nSize:     %s (%s MB unpacked)\nSHA-256:  %s\nImager:   %s\nTook:     %d min %d s\n' \
    "$final" "$(du -h "$final" | cut -f1)" "$((raw_size / 1024 / 1024))" \
    "$(cut -d' ' -f1 "$out/$name.img.xz.sha256")" "$out/$name.json" \
    $(((SECONDS - started) / 60)) $(((SECONDS - started) % 60))
