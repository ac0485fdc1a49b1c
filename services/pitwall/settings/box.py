"""The box's own services: its broker, its web server, its Wi-Fi and hotspot, health,
backups, and its place in a cluster."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from pitwall.settings.section import Section

_IPV4 = r"^(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}$"


class MqttSettings(Section):
    host: Annotated[str, Meta(description="Broker host. Mosquitto listens on localhost only.")] = (
        "127.0.0.1"
    )
    port: Annotated[int, Meta(ge=1, le=65535, description="Broker TCP port.")] = 1883
    topic_root: Annotated[
        str, Meta(pattern=r"^[^#+/]+(/[^#+/]+)*$", description="First level of every topic.")
    ] = "pitwall"
    keepalive_s: Annotated[int, Meta(ge=5, description="MQTT keep-alive in seconds.")] = 15
    session_expiry_s: Annotated[
        int,
        Meta(ge=60, description="How long the broker keeps a persistent session (and its "
             "queued passes) while the lap service is away."),
    ] = 7 * 24 * 3600
    error_burst: Annotated[
        int, Meta(ge=1, le=100_000, description="Error reports (ROOT/errors and the log) "
                  "per topic and kind of reason in error_window_s; the rest are counted and "
                  "reported once, as a summary, when the window ends.")
    ] = 10
    error_window_s: Annotated[
        float, Meta(gt=0, le=3600, description="The rate limit's window for error reports, "
                    "in seconds.")
    ] = 10.0


class ApiSettings(Section):
    host: Annotated[str, Meta(description="Address the web server binds to.")] = "0.0.0.0"
    port: Annotated[int, Meta(ge=1, le=65535, description="Web server port.")] = 8080
    webui_dir: Annotated[
        str, Meta(description="Folder of the web app served at /. Empty: the webui folder "
                  "of the source tree (development).")
    ] = ""
    public_url: Annotated[
        str, Meta(description="The board's address as phones should open it, e.g. "
                  "http://pitwall.lan/. Empty: the address the request came to.")
    ] = ""
    token_ttl_s: Annotated[
        int, Meta(ge=60, description="How long a director's login lasts, in seconds.")
    ] = 24 * 3600
    local_clients: Annotated[
        list[str], Meta(description="Networks that are the box itself (the TV/kiosk, tools "
                        "on the Pi): they may also log in with the plain PIN, and other "
                        "addresses' wrong PINs never lock them out. docs/security.md.")
    ] = msgspec.field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    trusted_proxies: Annotated[
        list[str], Meta(description="Addresses of reverse proxies in front of the API (e.g. "
                        "HAProxy, docs/scale-out.md) whose X-Forwarded-For is believed. "
                        "Empty: none is; the TCP peer is the client.")
    ] = msgspec.field(default_factory=list)
    live_deflate: Annotated[
        bool, Meta(description="Compress live frames (WebSocket permessage-deflate) for "
                   "browsers that offer it: fewer bytes on the race Wi-Fi, for about 45 KiB "
                   "of memory and some CPU per client. A cluster's wired replicas turn it "
                   "off (docs/scale-out.md).")
    ] = True
    metrics: Annotated[
        bool, Meta(description="Serve Prometheus metrics at /metrics (HTTP requests, live "
                   "clients, the lap service's counters, the box's health).")
    ] = False


class WifiSettings(Section):
    """The race Wi-Fi (hostapd). Empty values are unset; the Pi image generates them."""

    ssid: Annotated[
        str, Meta(max_length=32, description="Network name phones join; shown on the boards "
                  "with a join QR code.")
    ] = ""
    passphrase: Annotated[
        str, Meta(description="WPA2 passphrase (8 to 63 characters). Empty: an open network.")
    ] = ""
    country: Annotated[
        str, Meta(pattern=r"^([A-Z]{2})?$", description="Two-letter country code for the "
                  "radio's rules (Wi-Fi stays blocked until it is set).")
    ] = ""


class HotspotSettings(Section):
    """The race Wi-Fi's network side: DHCP, DNS and the captive portal.

    ``pitwall hotspot render`` turns these (with ``[wifi]``) into hostapd, dnsmasq and
    nftables files; see hostapd/README.md.
    """

    interface: Annotated[
        str, Meta(pattern=r"^[A-Za-z0-9_.-]{1,15}$", description="Wi-Fi interface the "
                  "hotspot runs on.")
    ] = "wlan0"
    address: Annotated[
        str, Meta(pattern=_IPV4, description="The Pi's address on the hotspot: gateway, DNS "
                  "server and where every name resolves.")
    ] = "10.77.0.1"
    prefix: Annotated[
        int, Meta(ge=16, le=29, description="Hotspot subnet size in bits (24: 10.77.0.0/24).")
    ] = 24
    dhcp_start: Annotated[
        str, Meta(pattern=_IPV4, description="First address handed to phones.")
    ] = "10.77.0.10"
    dhcp_end: Annotated[
        str, Meta(pattern=_IPV4, description="Last address handed to phones.")
    ] = "10.77.0.250"
    lease_s: Annotated[
        int, Meta(ge=120, description="DHCP lease time in seconds.")
    ] = 4 * 3600
    board_host: Annotated[
        str, Meta(pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$",
                  description="Short name of the board for phones (any name resolves to "
                  "the Pi; this one is printed and announced).")
    ] = "pitwall.lan"
    band: Annotated[
        Literal["2.4", "5"], Meta(description="Wi-Fi band in GHz. 2.4 reaches further and "
                                  "every phone has it.")
    ] = "2.4"
    channel: Annotated[
        int, Meta(ge=1, le=196, description="Wi-Fi channel (2.4 GHz: 1, 6 or 11; 5 GHz: "
                  "36 to 48 need no radar detection).")
    ] = 6
    leases_file: Annotated[
        str, Meta(description="dnsmasq's lease file, read by the captive portal to know a "
                  "phone by its MAC address as well as its IP. Missing or unreadable: by IP "
                  "only.")
    ] = "/var/lib/misc/dnsmasq.leases"
    portal_ttl_s: Annotated[
        int, Meta(ge=60, description="How long a phone that tapped through the captive "
                  "portal stays 'online' before the portal shows again (a race day).")
    ] = 24 * 3600


class HealthSettings(Section):
    """``pitwall health``: how often the box reports on itself, and when to warn."""

    interval_s: Annotated[
        float, Meta(ge=1, le=300, description="Seconds between health readings.")
    ] = 5.0
    systemd_every: Annotated[
        int, Meta(ge=1, le=100, description="Ask systemd about the units every N readings "
                  "(each ask runs systemctl).")
    ] = 6
    temp_warn_c: Annotated[
        float, Meta(description="CPU temperature that raises a warning (°C).")
    ] = 75.0
    temp_critical_c: Annotated[
        float, Meta(description="CPU temperature that is critical (the Pi throttles at 80).")
    ] = 80.0
    disk_warn_mib: Annotated[
        float, Meta(ge=0, description="Warn when the data partition has less free (MiB).")
    ] = 512.0
    disk_warn_percent: Annotated[
        float, Meta(ge=0, le=100, description="... or less than this share free (%).")
    ] = 10.0
    disk_critical_mib: Annotated[
        float, Meta(ge=0, description="Critical below this much free space (MiB).")
    ] = 64.0
    mem_warn_mib: Annotated[
        float, Meta(ge=0, description="Warn when less memory than this is available (MiB).")
    ] = 64.0
    required_services: Annotated[
        list[str], Meta(description="Services whose being offline is critical, not only a "
                        "warning.")
    ] = msgspec.field(default_factory=lambda: ["laps", "api"])


class BackupSettings(Section):
    """Automatic backups to a USB stick (``pitwall backup usb``: plugged in, and every
    quarter of an hour while a race finished since the last one)."""

    usb_folder: Annotated[
        str, Meta(description="Folder on the stick for Pitwall's backups.")
    ] = "pitwall-backups"
    usb_keep: Annotated[
        int, Meta(ge=1, le=1000, description="Backups kept on the stick (the oldest go).")
    ] = 30


class ClusterSettings(Section):
    """One track of several (docs/scale-out.md): this box's broker bridges its topics to a
    central Mosquitto over TLS, under ``tracks/<track>/``, and its lap service publishes
    the journal the central archive is written from. Empty ``track``: a box on its own."""

    track: Annotated[
        str, Meta(pattern=r"^([a-z0-9][a-z0-9-]{0,30})?$",
                  description="This track's id in the cluster (lower case, digits, '-'); "
                  "its topics appear centrally under tracks/<track>/. Empty: no cluster.")
    ] = ""
    central_host: Annotated[
        str, Meta(description="The central broker's host name (as in its TLS certificate).")
    ] = ""
    central_port: Annotated[
        int, Meta(ge=1, le=65535, description="The central broker's TLS port.")
    ] = 8883
    cafile: Annotated[
        str, Meta(description="The cluster's CA certificate (PEM), which signed the central "
                  "broker's certificate: the bridge trusts nothing else.")
    ] = "/etc/pitwall/cluster-ca.pem"
    password: Annotated[
        str, Meta(description="This track's password at the central broker (user: the "
                  "track id), made by `pitwall cluster add-track` on the central box.")
    ] = ""
    journal: Annotated[
        bool, Meta(description="Publish the archive journal (ROOT/archive/journal) even "
                   "without a cluster track (a central archive fed some other way).")
    ] = False

    @property
    def publishes_journal(self) -> bool:
        return bool(self.track) or self.journal
