#!/usr/bin/env bash
# Prove a built image works: boot it in QEMU (arm64 "virt" machine, the image's own kernel
# and initramfs from its FAT partition) as a club would use it, and check it from outside.
#
#   image/boot-test.sh [build/image/pitwall-YYYYMMDD.img.xz]   (default: the newest)
#   SCENARIOS="wifi" image/boot-test.sh                        (one scenario only)
#
# Each scenario boots a fresh copy of the image, 1 GiB larger than it (room for first
# boot's growing or data partition), with presets written into pitwall.txt by mtools as
# an owner would (country, PIN, an SSH key made for this run):
#
#   wifi      a simulated radio (mac80211_hwsim): every unit active, the hotspot up with
#             this device's generated SSID and passphrase, the root grown, the preset PIN
#             logs in and a write is kept.
#   readonly  readonly=yes and no radio: first boot makes the data partition and reboots
#             once; / is read-only, race data is on the data partition and survives a
#             reboot; no unit failed and nothing waited for the missing Wi-Fi.
#
# Prints boot-to-board times. Exit status 0 only when every check passes; the console
# logs are kept in build/image/boot-test-SCENARIO.log.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
image=${1:-$(ls -t "$repo"/build/image/*.img.xz 2>/dev/null | head -1)}
[ -n "$image" ] && [ -f "$image" ] || { echo "error: no image: run make image first" >&2; exit 1; }
scenarios=${SCENARIOS:-wifi readonly}
boot_timeout=${BOOT_TIMEOUT:-900}
for tool in qemu-system-aarch64 mcopy mdir curl xz ssh ssh-keygen python3; do
    command -v "$tool" >/dev/null || { echo "error: $tool is missing: image/install-image-deps.sh" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/var/tmp}/pitwall-boot.XXXXXX")
logs=$repo/build/image
qemu_pid=""
stop_qemu() {
    if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
        kill "$qemu_pid"; wait "$qemu_pid" 2>/dev/null || true
    fi
    qemu_pid=""
}
cleanup() { stop_qemu; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL [$scenario]: $*" >&2; [ -f "${log:-}" ] && tail -30 "$log" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "==> Unpacking $image"
xz -dc -T0 "$image" > "$work/image.img"
boot_start=$(sfdisk -d "$work/image.img" | sed -n 's/.*1 : start= *\([0-9]*\),.*/\1/p')
fat_of() { echo "$1@@$((boot_start * 512))"; }
kernel=$(mdir -b -i "$(fat_of "$work/image.img")" :: | sed -n 's|^::/||p' | grep '^vmlinuz-' | sort | tail -1)
initrd=$(mdir -b -i "$(fat_of "$work/image.img")" :: | sed -n 's|^::/||p' | grep '^initrd.img-' | sort | tail -1)
[ -n "$kernel" ] && [ -n "$initrd" ] || { echo "error: no vmlinuz/initrd.img on the boot partition" >&2; exit 1; }
mcopy -i "$(fat_of "$work/image.img")" "::$kernel" "$work/vmlinuz"
mcopy -i "$(fat_of "$work/image.img")" "::$initrd" "$work/initrd.img"
mcopy -i "$(fat_of "$work/image.img")" ::pitwall.txt "$work/pitwall.txt.built"
ssh-keygen -q -t ed25519 -N '' -C boot-test -f "$work/id"
pin=$(python3 -c 'import secrets; print(secrets.randbelow(10**8))')

# --- one booted Pi ---------------------------------------------------------------------
start_pi() {  # start_pi RADIO(yes|no) KEY=VALUE...  (pitwall.txt presets)
    local radio=$1; shift
    disk=$work/$scenario.img
    cp --sparse=always "$work/image.img" "$disk"
    truncate -s +1G "$disk"
    local edits=() kv
    for kv in "$@"; do edits+=(-e "s|^${kv%%=*}=.*|${kv//|/\\|}|"); done
    sed "${edits[@]}" "$work/pitwall.txt.built" > "$work/pitwall.txt"
    mcopy -o -i "$(fat_of "$disk")" "$work/pitwall.txt" ::pitwall.txt
    http=$(free_port); sshp=$(free_port)
    log=$logs/boot-test-$scenario.log
    : > "$log"  # empty now: QEMU truncates it only once it runs, after our first look
    local append="root=LABEL=RASPIROOT rw rootwait console=ttyAMA0 net.ifnames=0"
    # QEMU has no Wi-Fi: Debian's kernel can simulate radios (mac80211_hwsim).
    [ "$radio" = yes ] && append="$append modules-load=mac80211_hwsim"
    echo "==> [$scenario] booting $kernel (console: $log; API on 127.0.0.1:$http, SSH on :$sshp)"
    started=$SECONDS
    # A guest reboot restarts the same kernel with the same disk (first boot may reboot).
    qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 1024 -nographic \
        -kernel "$work/vmlinuz" -initrd "$work/initrd.img" -append "$append" \
        -drive "file=$disk,format=raw,if=virtio" \
        -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$http-:80,hostfwd=tcp:127.0.0.1:$sshp-:22" \
        -device virtio-net-device,netdev=net0 \
        -serial "file:$log" -monitor none -display none </dev/null &
    qemu_pid=$!
}

wait_for() {  # wait_for WHAT COMMAND...
    local what=$1; shift
    until "$@" 2>/dev/null; do
        kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU exited before $what"
        [ $((SECONDS - started)) -le "$boot_timeout" ] || fail "no $what within $boot_timeout s"
        sleep 3
    done
    echo "    ok: $what after $((SECONDS - started)) s"
}

on_pi() {  # on_pi COMMAND: run a shell command on the Pi as root, over SSH
    ssh -q -i "$work/id" -p "$sshp" -o BatchMode=yes -o ConnectTimeout=10 \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@127.0.0.1 "$@"
}

api() {  # api METHOD PATH [JSON]: with the director's token once logged in
    curl -fsS --max-time 20 -X "$1" "http://127.0.0.1:$http$2" \
        ${token:+-H "Authorization: Bearer $token"} \
        ${3:+-H content-type:application/json -d "$3"}
}

check() {  # check WHAT COMMAND...: a named check that must pass
    local what=$1; shift
    "$@" || fail "$what"
    echo "    ok: $what"
}

board_up() { curl -fsS --max-time 5 "http://127.0.0.1:$http/api/health" | grep -q '"laps_online":true'; }
ssh_up() { on_pi true; }
root_mode() { on_pi "findmnt -no OPTIONS /" | cut -d, -f1; }
same() { [ "$1" = "$2" ] || { echo "      expected '$2', got '$1'" >&2; return 1; }; }
no_failed_units() {
    local failed; failed=$(on_pi "systemctl --failed --plain --no-legend")
    [ -z "$failed" ] || { echo "      failed units: $failed" >&2; return 1; }
}
all_active() {
    local states; states=$(on_pi "systemctl is-active $*" | sort | uniq -c)
    same "$(echo "$states" | awk '{print $2}')" active || { echo "$states" >&2; return 1; }
}
nothing_waited_for_wifi() { ! on_pi "journalctl -b --no-pager" | grep -q "Timed out waiting for device"; }
login() {
    token=$(api POST /api/auth/login "{\"pin\": \"$pin\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
    [ -n "$token" ]
}
add_driver() { api POST /api/drivers "{\"name\": \"$1\"}" >/dev/null; }
has_driver() { api GET /api/drivers | grep -q "\"$1\""; }
finish() { on_pi "systemctl poweroff" || true; sleep 5; stop_qemu; }

units="pitwall.target pitwall-laps pitwall-api mosquitto pitwall-hotspot-firewall"
wifi_units="hostapd dnsmasq pitwall-hotspot-address"
# QEMU's "virt" machine has no Raspberry Pi GPIO header: the lane and lights services
# cannot claim their pins there. They must say so clearly (and keep retrying).
gpio_services_explain() {
    local unit journal
    for unit in pitwall-lane@1 pitwall-lane@2 pitwall-lights; do
        journal=$(on_pi "journalctl -b -u $unit --no-pager")
        grep -qE "no GPIO hardware found|cannot open the GPIO pins" <<<"$journal" \
            || { echo "      $unit: $(tail -3 <<<"$journal")" >&2; return 1; }
        ! grep -q "Traceback" <<<"$journal" || { echo "      $unit: a traceback" >&2; return 1; }
    done
}

# --- scenarios -------------------------------------------------------------------------
scenario_wifi() {
    start_pi yes country=GB "pin=$pin" "ssh_key=$(cat "$work/id.pub")"
    wait_for "multi-user.target" grep -qsa "Reached target.*Multi-User System" "$log"
    wait_for "the board (/api/health, lap service online)" board_up
    board_s=$((SECONDS - started))
    wait_for "SSH with the preset key" ssh_up
    check "every Pitwall, broker and hotspot unit is active" all_active $units $wifi_units
    check "no unit failed" no_failed_units
    check "lane and lights services say why there is no GPIO here" gpio_services_explain
    check "hostapd.conf carries this device's SSID and passphrase" on_pi python3 - <<'EOF'
import json, pathlib
device = json.loads(pathlib.Path("/etc/pitwall/device.json").read_text())
conf = dict(l.split("=", 1) for l in pathlib.Path("/etc/hostapd/hostapd.conf").read_text().splitlines()
            if "=" in l and not l.startswith("#"))
assert conf["ssid"] == device["ssid"] and conf["wpa_passphrase"] == device["passphrase"], conf
assert conf["country_code"] == "GB" and device["generated"] == ["hostname", "passphrase", "ssid"]
EOF
    check "the generated passphrase is written back to pitwall.txt" \
        on_pi 'grep -q "^passphrase=$(python3 -c "import json; print(json.load(open(\"/etc/pitwall/device.json\"))[\"passphrase\"])")" /boot/firmware/pitwall.txt'
    check "wlan0 has the hotspot's address" on_pi "ip -4 -o address show wlan0 | grep -q 10.77.0.1/24"
    check "the root filled the card at first boot" on_pi "! growpart -N /dev/vda 2 >/dev/null"
    check "the preset PIN logs in" login
    check "a director's write is kept" add_driver "Boot Test"
    check "and read back" has_driver "Boot Test"
    echo "    boot to board: ${board_s} s (first boot, emulated arm64)"
    echo "    first boot's own work: $(on_pi "systemd-analyze blame --no-pager" | grep pitwall-firstboot | awk '{$1=$1; print}')"
    finish
}

scenario_readonly() {
    start_pi no readonly=yes "pin=$pin" "ssh_key=$(cat "$work/id.pub")"
    wait_for "the board (/api/health, lap service online)" board_up
    board_s=$((SECONDS - started))
    wait_for "SSH with the preset key" ssh_up
    check "first boot rebooted once" same "$(grep -ca 'rebooting once to start with the read-only root' "$log")" 1
    check "/ is mounted read-only" same "$(root_mode)" ro
    check "race data is on the data partition" on_pi "findmnt -no SOURCE /var/lib/pitwall | grep -q 'vda3\[/pitwall\]'"
    check "the broker's state is on the data partition" on_pi "findmnt -no SOURCE /var/lib/mosquitto | grep -q 'vda3\[/mosquitto\]'"
    check "the system cannot be written" on_pi "! touch /etc/pitwall/written 2>/dev/null"
    check "every Pitwall and broker unit is active" all_active $units
    check "no unit failed" no_failed_units
    check "nothing waited for the missing Wi-Fi" nothing_waited_for_wifi
    check "the hotspot did not start without a radio" same "$(on_pi "systemctl is-active hostapd" || true)" inactive
    check "pitwall-storage status names the layout" on_pi "pitwall-storage status | grep -q 'read-only'"
    check "the preset PIN logs in" login
    check "a director's write is kept" add_driver "Read Only"
    echo "    boot to board: ${board_s} s (first boot with its reboot, emulated arm64)"
    echo "==> [$scenario] rebooting"
    on_pi "systemctl reboot" || true
    started=$SECONDS
    sleep 10
    wait_for "the board after the reboot" board_up
    wait_for "SSH after the reboot" ssh_up
    check "/ is still read-only" same "$(root_mode)" ro
    check "the race data survived the reboot" has_driver "Read Only"
    check "no unit failed after the reboot" no_failed_units
    finish
}

for scenario in $scenarios; do
    declare -F "scenario_$scenario" >/dev/null || { echo "error: no scenario $scenario" >&2; exit 1; }
    token=""
    "scenario_$scenario"
    rm -f "$work/$scenario.img"
done
echo "PASS: $scenarios"
