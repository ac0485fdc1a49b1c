# Make a mounted image's root usable for apt and Ansible through chroot, and put it back
# exactly as it was afterwards. Sourced by build-image.sh for BASE= builds, where the
# playbook installs packages into an official Raspberry Pi OS root (the from-scratch root
# already has them all).
#
#   chroot_enter ROOT    /proc, /sys, /dev and /dev/pts; the build machine's DNS; no
#                        services started by package scripts; no ld.so.preload
#   chroot_leave ROOT    undo all of it (safe to call twice, and after a partial enter)
#
# The build machine's /etc/resolv.conf is only read, never changed.

# Files set aside on entering and put back on leaving (or removed, if there was none).
_chroot_saved=(etc/resolv.conf etc/ld.so.preload usr/sbin/policy-rc.d)

chroot_enter() {
    local root=$1 fs
    for fs in proc sys dev dev/pts; do
        mkdir -p "$root/$fs"
        mountpoint -q "$root/$fs" && continue
        case $fs in
            proc) mount -t proc proc "$root/proc" ;;
            sys) mount -t sysfs sysfs "$root/sys" ;;
            dev) mount --bind /dev "$root/dev" && mount --make-rslave "$root/dev" ;;
            dev/pts) mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts" ;;
        esac
    done
    local path
    for path in "${_chroot_saved[@]}"; do
        _saved "$root/$path" && continue  # entered before: already saved
        # -e fails for a dangling symlink (Raspberry Pi OS links resolv.conf into /run).
        if [ -e "$root/$path" ] || [ -L "$root/$path" ]; then
            mv "$root/$path" "$root/$path.pitwall-build"
        else
            touch "$root/$path.pitwall-build-none"  # there was none: leave none
        fi
    done
    # Package downloads resolve names as the build machine does.
    cp -L /etc/resolv.conf "$root/etc/resolv.conf"
    # Debian's policy layer: 101 = "do not start services" (nothing runs until the Pi boots).
    printf '#!/bin/sh\n# pitwall-build: no services start in the image\nexit 101\n' \
        > "$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
}

_saved() { [ -e "$1.pitwall-build" ] || [ -L "$1.pitwall-build" ] || [ -e "$1.pitwall-build-none" ]; }

chroot_leave() {
    local root=$1 fs path
    for path in "${_chroot_saved[@]}"; do
        if [ -e "$root/$path.pitwall-build" ] || [ -L "$root/$path.pitwall-build" ]; then
            rm -f "$root/$path"
            mv "$root/$path.pitwall-build" "$root/$path"
        elif [ -e "$root/$path.pitwall-build-none" ]; then
            rm -f "$root/$path" "$root/$path.pitwall-build-none"
        fi
    done
    for fs in dev/pts dev sys proc; do
        if mountpoint -q "$root/$fs"; then
            umount -R "$root/$fs" 2>/dev/null || umount -lR "$root/$fs"
        fi
    done
}
