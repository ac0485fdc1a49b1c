"""The rendered hostapd, dnsmasq and nftables files: what they say, that the real tools
accept them, and that bad settings are refused before a file is written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from pitwall import settings as settings_mod
from pitwall.cli import main as pitwall_main
from pitwall.hotspot import render as hotspot

from ..support import write_config
from .checks import WPA2, dnsmasq_test, hostapd_keys, hostapd_parses, nft_check

WIFI = {"ssid": "Race Net", "passphrase": "go fast now", "country": "GB"}
needs = {tool: pytest.mark.skipif(shutil.which(tool) is None, reason=f"{tool} not installed")
         for tool in ("dnsmasq", "hostapd", "nft", "systemd-analyze")}
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="nft -c needs root (unshare --net)")


def load(tmp_path, environ=None, **sections) -> settings_mod.Settings:
    data = {"wifi": WIFI, **sections}
    return settings_mod.load(write_config(tmp_path / "pitwall.toml", data),
                             environ=environ or {})


VARIANTS = {
    "defaults": {},
    "5ghz": {"hotspot": {"band": "5", "channel": 36}},
    "open": {"wifi": {**WIFI, "passphrase": ""}},
    "unicode-ssid": {"wifi": {**WIFI, "ssid": "Rennbahn Müller 🏁"}},
    "small-subnet": {"hotspot": {"address": "192.168.50.1", "prefix": 28,
                                 "dhcp_start": "192.168.50.2", "dhcp_end": "192.168.50.14",
                                 "interface": "wlan1", "board_host": "track.club.lan"},
                     "api": {"port": 80}},
}


@pytest.fixture(params=sorted(VARIANTS))
def rendered(request, tmp_path):
    settings = load(tmp_path, **VARIANTS[request.param])
    out = tmp_path / "out"
    hotspot.write(hotspot.render(settings), out)
    return settings, out


def test_every_template_is_rendered_with_a_managed_header(rendered):
    _, out = rendered
    for name in hotspot.TEMPLATES:
        text = (out / name.removesuffix(".j2")).read_text()
        assert "managed by pitwall" in text
        assert "{{" not in text and "{%" not in text


def test_hostapd_conf_says_what_the_settings_say(rendered):
    settings, out = rendered
    keys = hostapd_keys((out / "hostapd.conf").read_text())
    h, w = settings.hotspot, settings.wifi
    assert keys["interface"] == h.interface
    assert keys["ssid"] == w.ssid and keys["country_code"] == w.country
    assert keys["channel"] == str(h.channel) and keys["ieee80211n"] == "1"
    assert keys["hw_mode"] == ("a" if h.band == "5" else "g")
    if w.passphrase:
        assert {k: keys[k] for k in WPA2} == WPA2
        assert keys["wpa_passphrase"] == w.passphrase
        assert "wpa_pairwise" not in keys  # no TKIP
    else:
        assert "wpa" not in keys and "wpa_passphrase" not in keys
    assert oct((out / "hostapd.conf").stat().st_mode & 0o777) == "0o600"  # the passphrase


def test_dnsmasq_conf_has_wildcard_dns_option_114_and_no_upstream(rendered):
    settings, out = rendered
    h = settings.hotspot
    lines = (out / "dnsmasq.conf").read_text().splitlines()
    assert f"interface={h.interface}" in lines
    assert "except-interface=lo" in lines and "bind-dynamic" in lines
    assert f"address=/#/{h.address}" in lines
    assert "address=/dns.msftncsi.com/131.107.255.255" in lines
    assert "no-resolv" in lines and not any(line.startswith("server=") for line in lines)
    assert f"dhcp-range={h.dhcp_start},{h.dhcp_end},{h.lease_s}" in lines
    assert f"dhcp-option=option:router,{h.address}" in lines
    assert f"dhcp-option=option:dns-server,{h.address}" in lines
    assert f'dhcp-option=114,"http://{h.address}/api/captive"' in lines
    assert f"dhcp-leasefile={h.leases_file}" in lines


def test_nftables_redirects_dns_and_http_and_forwards_nothing(rendered):
    settings, out = rendered
    text = (out / "nftables.conf").read_text()
    iif = f'iifname "{settings.hotspot.interface}"'
    assert f"{iif} udp dport 53 redirect to :53" in text
    assert f"{iif} tcp dport 53 redirect to :53" in text
    assert f"{iif} tcp dport 80 redirect to :{settings.api.port}" in text
    assert re.search(r"hook forward priority filter; policy drop;", text)


def test_nftables_lets_only_dhcp_dns_the_api_and_mdns_in_from_the_wifi(rendered):
    settings, out = rendered
    text = (out / "nftables.conf").read_text()
    iif = f'iifname "{settings.hotspot.interface}"'
    assert "type filter hook input priority filter; policy accept;" in text
    assert f"{iif} jump from_hotspot" in text
    chain = text.split("chain from_hotspot {", 1)[1].split("}\n", 1)[0]
    ports = re.findall(r"^\s*(udp|tcp) dport (.+?) accept", chain, re.M)
    assert ports == [("udp", "67"), ("udp", "53"), ("tcp", "53"),
                     ("tcp", f"{{ 80, 443, {settings.api.port} }}"), ("udp", "5353")], ports
    assert chain.rstrip().endswith("counter drop")


def test_pi_os_files_name_the_interface(rendered):
    settings, out = rendered
    iface, h = settings.hotspot.interface, settings.hotspot
    nm = (out / "networkmanager/pitwall-hotspot.conf").read_text()
    assert f"unmanaged-devices=interface-name:{iface}" in nm
    unit = (out / "systemd/pitwall-hotspot-address.service").read_text()
    assert f"ip address replace {h.address}/{h.prefix} dev {iface}" in unit
    assert "Before=hostapd.service dnsmasq.service" in unit
    hostapd_dropin = (out / "systemd/hostapd.service.d/pitwall.conf").read_text()
    assert f"BindsTo=sys-subsystem-net-devices-{iface}.device" in hostapd_dropin
    assert "rfkill unblock wlan" in hostapd_dropin
    avahi = (out / "avahi/hosts").read_text()
    assert f"{h.address} {h.board_host.split('.')[0]}.local" in avahi


@needs["dnsmasq"]
def test_dnsmasq_accepts_the_file(rendered):
    dnsmasq_test(rendered[1] / "dnsmasq.conf")


@needs["hostapd"]
def test_hostapd_parses_the_file(rendered):
    hostapd_parses(rendered[1] / "hostapd.conf")


@needs["hostapd"]
def test_the_hostapd_check_catches_a_bad_file(tmp_path):
    """The check above can fail: a cipher hostapd does not know, a short passphrase."""
    settings = load(tmp_path)
    text = hotspot.render(settings)["hostapd.conf"]
    for bad in (text.replace("rsn_pairwise=CCMP", "rsn_pairwise=FOO"),
                text.replace("wpa_passphrase=go fast now", "wpa_passphrase=short")):
        conf = tmp_path / "bad.conf"
        conf.write_text(bad)
        with pytest.raises(AssertionError, match="errors found in configuration file"):
            hostapd_parses(conf)


@needs["dnsmasq"]
def test_the_dnsmasq_check_catches_a_bad_file(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("dhcp-range=10.0.0.1\nno-such-option\n")
    with pytest.raises(AssertionError):
        dnsmasq_test(conf)


@needs["nft"]
@needs_root
def test_nft_accepts_the_rules(rendered):
    nft_check(rendered[1] / "nftables.conf")


@needs["systemd-analyze"]
def test_systemd_accepts_the_units_and_drop_ins(rendered, tmp_path):
    """``systemd-analyze verify`` with the drop-ins applied to stand-ins for Debian's
    hostapd and dnsmasq units (dnsmasq-base, used by the tests, ships none). It only
    warns about unknown keys, so any output fails the test."""
    units = tmp_path / "units"
    shutil.copytree(rendered[1] / "systemd", units)
    for name in ("hostapd", "dnsmasq"):
        (units / f"{name}.service").write_text(
            "[Unit]\nDescription=stand-in\n[Service]\nExecStart=/bin/true\n")
    names = ["hostapd.service", "dnsmasq.service", "pitwall-hotspot-address.service",
             "pitwall-hotspot-firewall.service"]
    proc = subprocess.run(["systemd-analyze", "verify", *names], capture_output=True,
                          text=True, timeout=30,
                          env={**os.environ, "SYSTEMD_UNIT_PATH": f"{units}:"})
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


@pytest.mark.parametrize("sections, words", [
    ({"wifi": {**WIFI, "country": ""}}, "wifi.country is not set"),
    ({"wifi": {**WIFI, "ssid": ""}}, "wifi.ssid must be 1 to 32 bytes"),
    ({"PITWALL_WIFI_SSID": "Race\nwpa=0"}, "control character"),
    ({"wifi": {**WIFI, "passphrase": "short"}}, "8 to 63 printable ASCII"),
    ({"PITWALL_WIFI_PASSPHRASE": "good one\nwpa=0"}, "8 to 63 printable ASCII"),
    ({"hotspot": {"band": "5", "channel": 6}}, "not a 5 GHz channel"),
    ({"hotspot": {"channel": 52, "band": "5"}}, "not a 5 GHz channel"),
    ({"hotspot": {"channel": 14}}, "not a 2.4 GHz channel"),
    ({"hotspot": {"dhcp_start": "10.78.0.10"}}, "hotspot.dhcp_start 10.78.0.10 is not a host"),
    ({"hotspot": {"dhcp_end": "10.77.0.255"}}, "hotspot.dhcp_end 10.77.0.255 is not a host"),
    ({"hotspot": {"dhcp_start": "10.77.0.200", "dhcp_end": "10.77.0.100"}}, "is after"),
    ({"hotspot": {"address": "10.77.0.20"}}, "inside the DHCP range"),
    ({"hotspot": {"leases_file": "leases"}}, "absolute path"),
    ({"PITWALL_HOTSPOT_LEASES_FILE": "/tmp/x\ndhcp-range=1.2.3.4"}, "absolute path"),
])
def test_bad_settings_are_refused_with_a_reason(tmp_path, sections, words):
    # PITWALL_* entries are environment overrides: TOML strings cannot hold a newline.
    environ = {k: v for k, v in sections.items() if k.startswith("PITWALL_")}
    sections = {k: v for k, v in sections.items() if k not in environ}
    settings = load(tmp_path, environ, **sections)
    with pytest.raises(hotspot.HotspotError, match=re.escape(words)):
        hotspot.render(settings)


def test_cli_writes_the_files_or_refuses(tmp_path, capsys):
    config = write_config(tmp_path / "pitwall.toml", {"wifi": WIFI})
    assert pitwall_main(["--config", str(config), "hotspot", "render",
                         "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "dnsmasq.conf").exists()
    assert "hostapd.conf" in capsys.readouterr().out
    config = write_config(tmp_path / "bad.toml", {"wifi": {**WIFI, "country": ""}})
    assert pitwall_main(["--config", str(config), "hotspot", "render",
                         "--out", str(tmp_path / "bad")]) == 2
    assert "wifi.country is not set" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_comment_filter_matches_ansibles_plain_style():
    assert hotspot.comment("one\ntwo") == "#\n# one\n# two\n#"
