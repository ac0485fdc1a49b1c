"""Settings: one TOML file, validated, with environment overrides.

Every process reads the same settings. The file is found in this order:
``--config`` on the command line, ``$PITWALL_CONFIG``, ``/etc/pitwall/pitwall.toml``;
with none of them the defaults below apply. Unknown keys are errors, so a typo never
silently falls back to a default.

Any scalar setting can be overridden from the environment as ``PITWALL_`` plus its
name in upper case, sections joined by ``_``: ``[mqtt] port`` is ``PITWALL_MQTT_PORT``,
top-level ``data_dir`` is ``PITWALL_DATA_DIR``. Lists (``[[lanes]]``) come from the
file only.

``pitwall settings`` prints every setting with its description and effective value.
"""

from __future__ import annotations

import os
import re
import tomllib
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

SYSTEM_CONFIG = Path("/etc/pitwall/pitwall.toml")
ENV_PREFIX = "PITWALL_"


class SettingsError(Exception):
    """The settings file or an environment override is invalid."""


_IPV4 = r"^(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}$"


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class MqttSettings(_Section):
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


class ApiSettings(_Section):
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


class WifiSettings(_Section):
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


class HotspotSettings(_Section):
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


class RaceDefaults(_Section):
    """Defaults for a race set up without these fields."""

    min_lap_ms: Annotated[
        int, Meta(ge=0, description="Crossings closer than this to the previous counted one "
                  "are kept but marked suspect.")
    ] = 2000
    first_crossing: Annotated[
        Literal["counts", "starts"],
        Meta(description="'counts': lap 1 is timed from green; 'starts': the first "
             "crossing only starts timing."),
    ] = "counts"
    entrant: Annotated[
        Literal["car", "lane"], Meta(description="Entrants are keyed by car ID or by lane, "
                                     "when a set-up does not say and no [[lanes]] sensors tell "
                                     "(decoder/IR lanes: car; break-beam lanes: lane).")
    ] = "car"
    start_lead_ms: Annotated[
        int, Meta(ge=0, description="Delay between the start command and the first red light.")
    ] = 1000
    hold_min_ms: Annotated[
        int, Meta(ge=0, description="Shortest random hold after the fifth red light.")
    ] = 500
    hold_max_ms: Annotated[
        int, Meta(ge=0, description="Longest random hold after the fifth red light.")
    ] = 3000
    yellow_grace_ms: Annotated[
        int, Meta(ge=0, description="Laps still count, and the track keeps power, this long "
                  "after a yellow flag.")
    ] = 2000
    yellow_clock: Annotated[
        Literal["runs", "paused"],
        Meta(description="Whether a timed race's clock runs or pauses under yellow."),
    ] = "runs"
    green_countdown_ms: Annotated[
        int, Meta(ge=0, description="After the green command (resume after a yellow or red), "
                  "the flag stays out and the power off this long: drivers get to their "
                  "controllers. 3000 is usual; 0 resumes at once.")
    ] = 3000
    jump_start_penalty: Annotated[
        Literal["warning", "time", "stop_go", "restart"],
        Meta(description="What a pass between the first red light and green costs: "
             "'warning' (marked only), 'time' (jump_start_penalty_ms added to the race "
             "time), 'stop_go' (a stop that long to serve, added as time if unserved), "
             "'restart' (the start is void; start the lights again)."),
    ] = "warning"
    jump_start_penalty_ms: Annotated[
        int, Meta(ge=0, description="Time penalty, or length of the stop-and-go, for a "
                  "jump start.")
    ] = 5000
    auto_yellow_factor: Annotated[
        float, Meta(ge=0, description="Automatic track call: a yellow when a car has not "
                    "crossed for this many times its average lap (a deslot). 0: off.")
    ] = 0.0
    pass_horizon_s: Annotated[
        float, Meta(gt=0, le=7 * 24 * 3600, description="A pass stamped further ahead than "
                    "this of the race's latest accepted stamp (or of the lap service's clock, "
                    "if later) is implausible: refused, kept in the quarantine, never scored.")
    ] = 600.0


_Pin = Annotated[int, Meta(ge=0, le=53)]  # a BCM GPIO number


class BackupSettings(_Section):
    """Automatic backups to a USB stick (``pitwall backup usb``: plugged in, and every
    quarter of an hour while a race finished since the last one)."""

    usb_folder: Annotated[
        str, Meta(description="Folder on the stick for Pitwall's backups.")
    ] = "pitwall-backups"
    usb_keep: Annotated[
        int, Meta(ge=1, le=1000, description="Backups kept on the stick (the oldest go).")
    ] = 30


class ClusterSettings(_Section):
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


class HealthSettings(_Section):
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


class LightsSettings(_Section):
    """``pitwall lights``: start lights, flag LEDs, buzzer and track-power relay (BCM pins).

    A pin left out (or an empty list) means that output is not fitted.
    """

    red_pins: Annotated[
        list[_Pin], Meta(max_length=5, description="The five red start lights, first to fifth.")
    ] = msgspec.field(default_factory=lambda: [12, 16, 20, 21, 25])
    green_pin: Annotated[
        _Pin | None, Meta(description="Green start light: lit while racing under "
                         "green.")
    ] = 24
    yellow_pin: Annotated[
        _Pin | None, Meta(description="Yellow flag LED (blinks during the green "
                         "countdown).")
    ] = 23
    red_flag_pin: Annotated[
        _Pin | None, Meta(description="Red flag LED (also lit while the lap service "
                         "is offline).")
    ] = 18
    chequered_pin: Annotated[
        _Pin | None, Meta(description="Chequered (white) flag LED.")
    ] = 4
    buzzer_pin: Annotated[
        _Pin | None, Meta(description="Buzzer: beeps with each red light and "
                         "longer at green.")
    ] = 22
    power_pins: Annotated[
        list[_Pin], Meta(description="Track-power relays (one per lane where fitted); energised "
                        "means power on.")
    ] = msgspec.field(default_factory=lambda: [19])
    active_low_pins: Annotated[
        list[int], Meta(description="Outputs that are on when the pin is low (most relay "
                        "boards). Start lights share one polarity.")
    ] = []
    beep_ms: Annotated[int, Meta(ge=0, description="Beep length at each red light.")] = 150
    go_beep_ms: Annotated[int, Meta(ge=0, description="Beep length at green.")] = 600


class ButtonSettings(_Section, kw_only=True):
    """A race director's button: a press sends one race command (``pitwall lights``)."""

    pin: Annotated[int, Meta(ge=0, le=53, description="BCM pin of the button.")]
    command: Annotated[
        Literal["start", "yellow", "green", "red", "finish"],
        Meta(description="Race command a press sends: 'yellow' is a track call, 'green' "
             "resumes."),
    ]
    name: Annotated[
        str, Meta(max_length=40, description="Where the button is, for the log (e.g. "
                  "'driver station 2').")
    ] = ""
    active_low: Annotated[
        bool, Meta(description="Button connects the pin to GND (internal pull-up on).")
    ] = True
    bounce_ms: Annotated[
        int, Meta(ge=0, description="Presses closer than this to the last one are contact "
                  "bounce and ignored.")
    ] = 300


class LaneSettings(_Section, kw_only=True):
    """One lane sensor. ``pitwall lane --lane N`` reads the entry with ``lane = N``."""

    lane: Annotated[int, Meta(ge=1, description="Lane number (1 is the first lane).")]
    mode: Annotated[
        Literal["beam", "decoder", "ir"],
        Meta(description="'beam': break-beam or reed, one pass per edge; 'decoder': "
             "ZoomRoom-style decoder board; 'ir': digital car IDs from IR blink periods."),
    ] = "beam"
    pin: Annotated[
        int, Meta(ge=0, le=53, description="BCM pin of the sensor (FLAG line in decoder mode).")
    ]
    active_low: Annotated[
        bool, Meta(description="Sensor pulls the line low when a car passes (pull-up on).")
    ] = True
    id_pins: Annotated[
        list[int], Meta(description="Decoder mode: BCM pins of car-ID bits b1, b2, b3.")
    ] = []
    hshake_pin: Annotated[
        int | None, Meta(description="Decoder mode: BCM pin pulsed to acknowledge a car.")
    ] = None
    hshake_ms: Annotated[
        float, Meta(gt=0, description="Decoder mode: length of the HSHAKE pulse.")
    ] = 1.0
    ir_system: Annotated[
        Literal["carrera", "scalextric"], Meta(description="IR mode: blink-period scheme.")
    ] = "carrera"
    ir_tolerance_us: Annotated[
        float, Meta(gt=0, description="IR mode: how far a period may be from the nominal one.")
    ] = 12.0
    ir_holdoff_ms: Annotated[
        float, Meta(ge=0, description="IR mode: after reporting a car, ignore it this long.")
    ] = 300.0
    role: Annotated[
        Literal["line", "pit_in", "pit_out"],
        Meta(description="'line': the timing line (laps); 'pit_in' / 'pit_out': a sensor at "
             "the pit-lane entry or exit (endurance: its passes are pit stops, never laps)."),
    ] = "line"
    serves: Annotated[
        Annotated[int, Meta(ge=1)] | None,
        Meta(description="Pit sensors in races keyed by lane: the track lane whose car this "
             "sensor sees."),
    ] = None


class EnduranceSettings(_Section):
    """Defaults for endurance races (each can be set per race at setup); 0 is no rule."""

    min_pit_s: Annotated[
        float, Meta(ge=0, description="A stop shorter than this (pit entry to exit) is a "
                    "violation.")
    ] = 0.0
    min_stint_laps: Annotated[
        int, Meta(ge=0, description="A stint of fewer laps is a violation.")
    ] = 0
    max_stint_laps: Annotated[
        int, Meta(ge=0, description="A stint of more laps is a violation.")
    ] = 0
    min_stint_s: Annotated[
        int, Meta(ge=0, description="A stint shorter than this many seconds is a violation.")
    ] = 0
    max_stint_s: Annotated[
        int, Meta(ge=0, description="A stint longer than this many seconds is a violation.")
    ] = 0
    required_stops: Annotated[
        int, Meta(ge=0, description="Stops each team must make; each missing at the flag "
                  "is a violation.")
    ] = 0
    driver_change: Annotated[
        Literal["free", "every_stop"],
        Meta(description="'every_stop': the driver must change at every stop."),
    ] = "free"
    penalty_s: Annotated[
        float, Meta(ge=0, description="Time a violation adds to the team's race once the "
                    "director confirms it.")
    ] = 10.0
    pace_window: Annotated[
        int, Meta(ge=1, le=50, description="Pace average: the last this many clean laps.")
    ] = 5
    pace_outlier_mads: Annotated[
        float, Meta(gt=0, description="A lap further than this many scaled median absolute "
                    "deviations from the median is an outlier (a spin, a deslot).")
    ] = 3.0
    pace_min_laps: Annotated[
        int, Meta(ge=1, le=50, description="Clean laps needed before a pace and a pace tag "
                  "are shown.")
    ] = 3


class Settings(_Section):
    data_dir: Annotated[
        str, Meta(description="Folder for the race database and other state.")
    ] = "/var/lib/pitwall"
    database_url: Annotated[
        str, Meta(description="Empty for SQLite in data_dir, or a peewee URL such as "
                  "postgresql://user@host/pitwall for multi-track setups.")
    ] = ""
    storage_reserve_mib: Annotated[
        int, Meta(ge=0, le=1024, description="Space the lap service keeps in reserve in "
                  "data_dir (a file it deletes when the partition is full, so passes can be "
                  "stored again at once). 0: none.")
    ] = 16
    director_pin: Annotated[
        str, Meta(description="Director's PIN for writes. Empty: nobody can log in (the Pi "
                  "image generates one per device; `pitwall up` one per run).")
    ] = ""
    track_name: Annotated[
        str, Meta(max_length=80, description="Name of the track, shown on the boards.")
    ] = "Pitwall"
    track_lanes: Annotated[
        int, Meta(ge=0, le=64, description="Lanes on the track, for the web app's lane "
                  "pickers. 0: the lanes configured as [[lanes]] tables.")
    ] = 0
    log_level: Annotated[
        Literal["DEBUG", "INFO", "WARNING", "ERROR"], Meta(description="Log verbosity.")
    ] = "INFO"
    mqtt: MqttSettings = msgspec.field(default_factory=MqttSettings)
    api: ApiSettings = msgspec.field(default_factory=ApiSettings)
    race: RaceDefaults = msgspec.field(default_factory=RaceDefaults)
    endurance: EnduranceSettings = msgspec.field(default_factory=EnduranceSettings)
    wifi: WifiSettings = msgspec.field(default_factory=WifiSettings)
    hotspot: HotspotSettings = msgspec.field(default_factory=HotspotSettings)
    lights: LightsSettings = msgspec.field(default_factory=LightsSettings)
    health: HealthSettings = msgspec.field(default_factory=HealthSettings)
    backup: BackupSettings = msgspec.field(default_factory=BackupSettings)
    cluster: ClusterSettings = msgspec.field(default_factory=ClusterSettings)
    buttons: Annotated[
        list[ButtonSettings], Meta(description="Race director's buttons, one [[buttons]] "
                                   "table each.")
    ] = []
    lanes: Annotated[
        list[LaneSettings], Meta(description="Lane sensors, one [[lanes]] table each.")
    ] = []

    def lane(self, number: int) -> LaneSettings:
        for lane in self.lanes:
            if lane.lane == number:
                return lane
        raise SettingsError(
            f"lane {number} is not configured: add a [[lanes]] table with lane = {number}"
        )

    @property
    def lane_numbers(self) -> list[int]:
        """The track's lanes (for pickers): pit sensors are not lanes to race on."""
        pits = {lane.lane for lane in self.lanes if lane.role != "line"}
        if self.track_lanes:
            return [n for n in range(1, self.track_lanes + 1) if n not in pits]
        return sorted(lane.lane for lane in self.lanes if lane.role == "line")

    @property
    def pit_lanes(self) -> list[LaneSettings]:
        """The sensors of the pit lane (``role`` pit_in / pit_out)."""
        return [lane for lane in self.lanes if lane.role != "line"]

    @property
    def entrant_default(self) -> str:
        """How races are keyed when a set-up does not say: what the sensors report.

        Decoder and IR lanes read car IDs (a digital track: "car"); break-beam lanes only
        know the lane (analog: "lane"); with no sensors configured (the simulator, a
        laptop), the ``[race] entrant`` setting.
        """
        line = [lane for lane in self.lanes if lane.role == "line"]
        if any(lane.mode in ("decoder", "ir") for lane in line):
            return "car"
        return "lane" if line else self.race.entrant

    @property
    def database_path(self) -> Path:
        return Path(self.data_dir) / "pitwall.db"


def config_path(explicit: str | os.PathLike | None = None) -> Path | None:
    """The settings file to read, or None for pure defaults."""
    if explicit:
        return Path(explicit)
    if os.environ.get("PITWALL_CONFIG"):
        return Path(os.environ["PITWALL_CONFIG"])
    return SYSTEM_CONFIG if SYSTEM_CONFIG.exists() else None


def env_overrides(environ: dict[str, str] | os._Environ = os.environ) -> dict[str, Any]:
    """Nested dict of the ``PITWALL_*`` variables that name a scalar setting."""
    out: dict[str, Any] = {}
    for path in _scalar_paths(Settings):
        name = ENV_PREFIX + "_".join(path).upper()
        if name in environ:
            node = out
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = environ[name]
    return out


def load(path: str | os.PathLike | None = None, environ=os.environ) -> Settings:
    """Read, merge and validate the settings. Raises SettingsError with a clear message."""
    file = config_path(path)
    data: dict[str, Any] = {}
    if file is not None:
        try:
            data = tomllib.loads(file.read_text())
        except FileNotFoundError:
            raise SettingsError(f"settings file not found: {file}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{file}: not valid TOML: {exc}") from None
    _merge(data, env_overrides(environ))
    try:
        # strict=False lets environment strings become ints, floats and booleans.
        return msgspec.convert(data, Settings, strict=False)
    except msgspec.ValidationError as exc:
        where = file or "defaults"
        raise SettingsError(f"{where} (with PITWALL_* overrides): {exc}") from None


# The settings no backup, diagnostics archive or page may carry (dotted names).
SECRETS = ("director_pin", "wifi.passphrase", "cluster.password")
REMOVED = "(removed: a secret)"


def public(settings: Settings) -> dict[str, Any]:
    """The settings as plain data without secrets: the PIN, the Wi-Fi passphrase and the
    password in a database URL (for backups and diagnostics)."""
    data = msgspec.to_builtins(settings)
    for dotted in SECRETS:
        *path, last = dotted.split(".")
        node = data
        for key in path:
            node = node.get(key, {})
        if node.get(last):
            node[last] = REMOVED
    if data.get("database_url"):
        data["database_url"] = re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", data["database_url"])
    return data


def describe() -> list[tuple[str, str, Any, str]]:
    """(env name, dotted name, default, description) for every scalar setting."""
    rows = []
    for path in _scalar_paths(Settings):
        struct, field = _field_at(path)
        rows.append(
            (ENV_PREFIX + "_".join(path).upper(), ".".join(path), field.default,
             _description(struct, path[-1]))
        )
    return rows


def _merge(base: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _scalar_paths(struct: type, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Dotted paths of the settings an environment variable can set (not sections, lists)."""
    paths = []
    for field in msgspec.structs.fields(struct):
        kind = field.type
        if isinstance(kind, type) and issubclass(kind, _Section):
            paths += _scalar_paths(kind, prefix + (field.name,))
        elif not isinstance(field.default, list) and field.default_factory is msgspec.NODEFAULT:
            paths.append(prefix + (field.name,))
    return paths


def _field_at(path: tuple[str, ...]):
    struct: type = Settings
    for key in path[:-1]:
        field = next(f for f in msgspec.structs.fields(struct) if f.name == key)
        struct = type(field.default_factory())
    return struct, next(f for f in msgspec.structs.fields(struct) if f.name == path[-1])


def _description(struct: type, name: str) -> str:
    hint = typing.get_type_hints(struct, include_extras=True)[name]
    for extra in getattr(hint, "__metadata__", ()):
        if isinstance(extra, Meta) and extra.description:
            return extra.description
    return ""
