"""Settings -> the hotspot's configuration files, rendered from the Jinja2 templates in
the repository's ``hostapd/`` folder (the same templates the Ansible role uses).

Pure: no I/O except reading the templates. Every value that ends up in a file is
checked first, because hostapd and dnsmasq read one setting per line: a newline in an
SSID would be a second, attacker-chosen setting.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import jinja2

from pitwall.settings import Settings

# services/pitwall/hotspot/render.py -> the repository root's hostapd/
SOURCE_TREE_TEMPLATES = Path(__file__).resolve().parents[3] / "hostapd"

# template under hostapd/ -> file written under the output folder (same relative path)
TEMPLATES = [
    "hostapd.conf.j2",
    "dnsmasq.conf.j2",
    "nftables.conf.j2",
    "avahi/hosts.j2",
    "networkmanager/pitwall-hotspot.conf.j2",
    "systemd/pitwall-hotspot-address.service.j2",
    "systemd/pitwall-hotspot-firewall.service.j2",
    "systemd/hostapd.service.d/pitwall.conf.j2",
    "systemd/dnsmasq.service.d/pitwall.conf.j2",
]

CHANNELS = {
    "2.4": set(range(1, 14)),
    # 5 GHz without radar detection (DFS), which the Pi's hostapd set-up does not do.
    "5": {36, 40, 44, 48},
}


class HotspotError(ValueError):
    """The settings cannot make a working, safe hotspot configuration."""


def template_vars(settings: Settings) -> dict[str, object]:
    """The templates' variables: each is the setting's dotted name with ``_``
    (``hotspot.address`` -> ``hotspot_address``), plus the derived portal API URL."""
    h, w = settings.hotspot, settings.wifi
    return {
        "wifi_ssid": w.ssid,
        "wifi_passphrase": w.passphrase,
        "wifi_country": w.country,
        "hotspot_interface": h.interface,
        "hotspot_address": h.address,
        "hotspot_prefix": h.prefix,
        "hotspot_dhcp_start": h.dhcp_start,
        "hotspot_dhcp_end": h.dhcp_end,
        "hotspot_lease_s": h.lease_s,
        "hotspot_board_host": h.board_host,
        "hotspot_band": h.band,
        "hotspot_channel": h.channel,
        "hotspot_leases_file": h.leases_file,
        "hotspot_portal_api_url": portal_api_url(settings),
        "api_port": settings.api.port,
    }


def portal_api_url(settings: Settings) -> str:
    """DHCP option 114. The address, not the name, so it works before DNS does; port 80
    reaches the API through the nftables redirect (or api.port = 80)."""
    return f"http://{settings.hotspot.address}/api/captive"


def problems(settings: Settings) -> list[str]:
    """Everything that would make a broken or unsafe configuration, in words."""
    h, w = settings.hotspot, settings.wifi
    out: list[str] = []
    if not w.country:
        out.append("wifi.country is not set: the radio stays blocked without a country "
                   "code (e.g. GB, DE, US)")
    ssid = w.ssid.encode("utf-8")
    if not 1 <= len(ssid) <= 32:
        out.append(f"wifi.ssid must be 1 to 32 bytes, not {len(ssid)}")
    if _has_control(w.ssid):
        out.append("wifi.ssid has a control character (newline, tab, ...)")
    if w.passphrase and not (8 <= len(w.passphrase) <= 63
                             and all(" " <= c <= "~" for c in w.passphrase)):
        out.append("wifi.passphrase must be 8 to 63 printable ASCII characters")
    if h.channel not in CHANNELS[h.band]:
        allowed = ", ".join(map(str, sorted(CHANNELS[h.band])))
        out.append(f"hotspot.channel {h.channel} is not a {h.band} GHz channel here "
                   f"(one of {allowed})")
    out += _subnet_problems(h.address, h.prefix, h.dhcp_start, h.dhcp_end)
    if not h.leases_file.startswith("/") or _has_control(h.leases_file) or \
            h.leases_file != h.leases_file.strip():
        out.append("hotspot.leases_file must be an absolute path without control "
                   "characters or surrounding spaces")
    return out


def _subnet_problems(address: str, prefix: int, start: str, end: str) -> list[str]:
    net = ipaddress.ip_interface(f"{address}/{prefix}").network
    pi, first, last = (ipaddress.ip_address(a) for a in (address, start, end))
    hosts = f"{net.network_address + 1} to {net.broadcast_address - 1}"
    out = []
    for name, ip in (("hotspot.address", pi), ("hotspot.dhcp_start", first),
                     ("hotspot.dhcp_end", last)):
        if ip not in net or ip in (net.network_address, net.broadcast_address):
            out.append(f"{name} {ip} is not a host address of {net} ({hosts})")
    if first > last:
        out.append(f"hotspot.dhcp_start {first} is after hotspot.dhcp_end {last}")
    elif first <= pi <= last:
        out.append(f"hotspot.address {pi} is inside the DHCP range {first} to {last}")
    return out


def _has_control(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def comment(text: str) -> str:
    """Ansible's ``comment`` filter (plain style), so the templates render outside it."""
    return "#\n" + "".join(f"# {line}\n" if line else "#\n" for line in text.splitlines()) + "#"


def environment(templates: Path = SOURCE_TREE_TEMPLATES) -> jinja2.Environment:
    # Ansible's template module defaults: trim_blocks on, trailing newline kept.
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             keep_trailing_newline=True, autoescape=False)
    env.filters["comment"] = comment
    return env


def render(settings: Settings, templates: Path = SOURCE_TREE_TEMPLATES) -> dict[str, str]:
    """{output path relative to the output folder: file text}. Raises HotspotError."""
    found = problems(settings)
    if found:
        raise HotspotError("cannot render the hotspot configuration: " + "; ".join(found))
    env = environment(templates)
    values = template_vars(settings)
    return {name.removesuffix(".j2"): env.get_template(name).render(values)
            for name in TEMPLATES}


def write(files: dict[str, str], out: Path) -> list[Path]:
    written = []
    for name, text in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        # hostapd.conf holds the Wi-Fi passphrase.
        path.chmod(0o600 if name == "hostapd.conf" else 0o644)
        written.append(path)
    return written
