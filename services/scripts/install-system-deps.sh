#!/usr/bin/env bash
# Install the Debian packages the development stack and the test suite need.
# Idempotent: does nothing when everything is present. Used by `make run` / `make test`.
set -euo pipefail

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
# The cluster's CA and TLS certificate (pitwall cluster init; tests/cluster/test_setup.py).
command -v openssl >/dev/null 2>&1 || need+=(openssl)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
# Headless browser tests of the web app drive Debian's Chromium (never a downloaded one).
[ -x /usr/bin/chromium ] || need+=(chromium)
# Hotspot tests (tests/hotspot): the real dnsmasq, hostapd (config check only), nft, a
# DHCP client (busybox udhcpc), dig and curl for the "phones". dnsmasq-base is the daemon
# without Debian's service; the appliance's Ansible role installs the full dnsmasq.
[ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
[ -x /usr/sbin/hostapd ] || need+=(hostapd)
[ -x /usr/sbin/nft ] || need+=(nftables)
command -v udhcpc >/dev/null 2>&1 || need+=(udhcpc)
command -v dig >/dev/null 2>&1 || need+=(bind9-dnsutils)
command -v curl >/dev/null 2>&1 || need+=(curl)
# Appliance converge test (tests/appliance): mmdebstrap builds the Debian root the
# playbook runs in; systemd-analyze checks its units.
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg"); done

[ ${#need[@]} -eq 0 ] && exit 0

echo "Installing Debian packages: ${need[*]}"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "error: need root (or sudo) to install: ${need[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
# Debian starts the packaged broker on port 1883; the stack and the tests start their own
# private broker, so the packaged one is left as the system administrator configured it.
# Debian enables hostapd.service when it installs hostapd (it runs once
# /etc/hostapd/hostapd.conf exists). A development machine must never end up running an
# access point: when this script installed hostapd, stop and mask its service. (nftables
# installs its service disabled; dnsmasq-base has none.)
if [[ " ${need[*]} " == *" hostapd "* ]] && [ -d /run/systemd/system ]; then
    $SUDO systemctl stop hostapd.service || true
    $SUDO systemctl mask hostapd.service || true
fi
