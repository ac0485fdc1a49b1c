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

from pitwall.settings.box import (
    ApiSettings,
    BackupSettings,
    ClusterSettings,
    HealthSettings,
    HotspotSettings,
    MqttSettings,
    WifiSettings,
)
from pitwall.settings.racing import (
    ButtonSettings,
    EnduranceSettings,
    LaneSettings,
    LightsSettings,
    RaceDefaults,
)
from pitwall.settings.section import Section

__all__ = [  # the tables, for who imports one from pitwall.settings
    "ApiSettings", "BackupSettings", "ButtonSettings", "ClusterSettings",
    "EnduranceSettings", "HealthSettings", "HotspotSettings", "LaneSettings",
    "LightsSettings", "MqttSettings", "RaceDefaults", "Settings", "SettingsError",
    "WifiSettings", "describe", "load", "public"]

SYSTEM_CONFIG = Path("/etc/pitwall/pitwall.toml")
ENV_PREFIX = "PITWALL_"


class SettingsError(Exception):
    """The settings file or an environment override is invalid."""


class Settings(Section):
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
        if isinstance(kind, type) and issubclass(kind, Section):
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
