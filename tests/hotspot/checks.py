"""Checks of rendered files with the real tools that will read them, minus the radio.

- dnsmasq: ``dnsmasq --test`` parses the whole file as the daemon would.
- hostapd: there is no config-only mode and no Wi-Fi radio here. ``hostapd -dd`` reads
  and validates the whole file first (bad keys, ciphers, passphrase length, ... are
  reported as "N errors found in configuration file") and only then asks the kernel for
  the nl80211 driver, which fails without a radio. Reaching the driver step proves the
  file parsed. Values hostapd only checks against a real radio (is channel 6 allowed in
  this country, does the chip do 802.11n) are not checked; ``hostapd_keys`` checks the
  keys we rely on are there with the values we mean.
- nftables: ``nft -c -f`` (check only) in a throwaway network namespace.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

REQUIRED_HOSTAPD = {
    "interface", "driver", "ssid", "country_code", "hw_mode", "channel", "ieee80211n",
    "wmm_enabled", "auth_algs",
}
WPA2 = {"wpa": "2", "wpa_key_mgmt": "WPA-PSK", "rsn_pairwise": "CCMP"}


def hostapd_keys(text: str) -> dict[str, str]:
    """key -> value of a hostapd.conf; a repeated key or a line without '=' is an error."""
    keys: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"line {number} is not key=value: {raw!r}"
        assert key not in keys, f"line {number}: {key} is set twice"
        keys[key] = value
    missing = REQUIRED_HOSTAPD - keys.keys()
    assert not missing, f"hostapd.conf lacks {sorted(missing)}"
    return keys


def hostapd_parses(conf: Path) -> str:
    """Run hostapd on the file; assert it got past parsing. Returns its output."""
    proc = subprocess.run(["hostapd", "-dd", str(conf)], capture_output=True, text=True,
                          timeout=10, cwd=conf.parent)
    out = proc.stdout + proc.stderr
    assert "errors found in configuration file" not in out, out
    assert f"Configuration file: {conf}" in out, out
    # The next step after a good parse: the driver. No radio here, so it fails.
    assert "nl80211" in out and "Failed to initialize driver" in out, out
    return out


def dnsmasq_test(conf: Path) -> None:
    proc = subprocess.run(["dnsmasq", "--test", f"--conf-file={conf}"], capture_output=True,
                          text=True, timeout=10)
    assert proc.returncode == 0 and "syntax check OK" in proc.stderr, proc.stderr


def nft_check(conf: Path) -> None:
    proc = subprocess.run(["unshare", "--net", "nft", "-c", "-f", str(conf)],
                          capture_output=True, text=True, timeout=10)
    assert proc.returncode == 0, proc.stderr
