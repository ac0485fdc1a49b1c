"""``pitwall health``: every few seconds, the box's health as retained ``health/state``.

Small on purpose (it runs beside the timing on a Pi): one MQTT connection driven from
its own loop (no extra threads), readings from ``/proc`` and ``/sys`` text files,
systemd asked only every few readings. Each threshold crossed is announced once on
``health/warning`` (and stays listed in the state while it holds).
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from pathlib import Path

from paho.mqtt.client import MQTTMessage

from pitwall import contract, version
from pitwall.bus import Bus
from pitwall.health.checks import new_warnings, warnings
from pitwall.health.readings import SECTOR, Readings, Snapshot, throttle_flags
from pitwall.settings import Settings

log = logging.getLogger(__name__)

MIB = 1024 * 1024
UNITS = "pitwall-*.service"



def systemd_units(runner=subprocess.run) -> dict[str, dict[str, str]] | None:
    """Pitwall's units as systemd sees them (None: no systemd running here)."""
    if not Path("/run/systemd/system").is_dir():
        return None
    try:
        out = runner(["systemctl", "show", "--no-pager", UNITS, "--property",
                      "Id,ActiveState,NRestarts,ActiveEnterTimestamp"],
                     capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    units: dict[str, dict[str, str]] = {}
    for block in out.stdout.split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if "Id" in props:
            units[props["Id"]] = props
    return units


def unit_service(unit: str) -> str:
    """pitwall-laps.service -> laps; pitwall-lane@1.service -> lane1."""
    return unit.removeprefix("pitwall-").removesuffix(".service").replace("@", "")


class HealthService:
    def __init__(self, settings: Settings, readings: Readings | None = None,
                 systemd=systemd_units) -> None:
        self.settings = settings
        self.limits = settings.health
        self.readings = readings or Readings(settings.data_dir)
        self.systemd = systemd
        self.bus = Bus(settings, "health")
        self.topics = self.bus.topics
        self.version = version()
        self.status: dict[str, str] = {}  # service -> "online"/"offline", from status/+
        self._units: dict[str, dict[str, str]] | None = None
        self._previous: tuple[float, Snapshot] | None = None
        self._warned: list[contract.HealthWarning] = []
        self._turn = 0
        self._stop = threading.Event()
        self.bus.subscribe(self.topics.status("+"), self._on_status)

    def _on_status(self, msg: MQTTMessage) -> None:
        name = msg.topic.rsplit("/", 1)[-1]
        if name == "health":
            return  # itself
        payload = bytes(msg.payload)
        if payload in (*contract.RUNNING, contract.OFFLINE):
            self.status[name] = payload.decode()
        elif not payload:
            self.status.pop(name, None)  # a cleared retained status: forgotten

    # -------------------------------------------------------------- one reading
    def state(self, now_mono: float, snap: Snapshot) -> contract.HealthState:
        cpu = write = None
        if self._previous is not None:
            then, before = self._previous
            if snap.cpu and before.cpu and snap.cpu[1] > before.cpu[1]:
                cpu = round(100 * (snap.cpu[0] - before.cpu[0]) / (snap.cpu[1] - before.cpu[1]),
                            1)
            if snap.sectors_written is not None and before.sectors_written is not None \
                    and now_mono > then:
                write = round((snap.sectors_written - before.sectors_written) * SECTOR / 1024
                              / (now_mono - then), 1)
        self._previous = (now_mono, snap)
        throttle = None
        if snap.throttled is not None:
            throttle = contract.Throttle(raw=snap.throttled, **throttle_flags(snap.throttled))
        mem, disk = snap.mem_kib, snap.disk_bytes
        state = contract.HealthState(
            at=time.time(), version=self.version, uptime_s=snap.uptime_s,
            cpu_temp_c=snap.cpu_temp_c, cpu_percent=cpu,
            load=list(snap.load) if snap.load else None,
            mem_total_mib=round(mem[0] / 1024, 1) if mem else None,
            mem_available_mib=round(mem[1] / 1024, 1) if mem else None,
            disk_total_mib=round(disk[0] / MIB, 1) if disk else None,
            disk_free_mib=round(disk[1] / MIB, 1) if disk else None,
            disk_write_kib_s=write, throttle=throttle, services=self.services(), warnings=[])
        state.warnings = warnings(state, self.limits)
        return state

    def services(self) -> list[contract.ServiceHealth]:
        units = {unit_service(u): p for u, p in (self._units or {}).items()}
        out = []
        for name in sorted(set(self.status) | set(units)):
            unit = units.get(name)
            restarts = unit.get("NRestarts") if unit else None
            out.append(contract.ServiceHealth(
                name=name, mqtt=self.status.get(name),
                systemd=unit.get("ActiveState") if unit else None,
                restarts=int(restarts) if restarts and restarts.isdigit() else None,
                since=(unit.get("ActiveEnterTimestamp") or None) if unit else None))
        return out

    def tick(self) -> contract.HealthState:
        if self._turn % self.limits.systemd_every == 0:
            self._units = self.systemd()
        self._turn += 1
        state = self.state(time.monotonic(), self.readings.read())
        self.bus.publish(self.topics.health_state, state, retain=True)
        for w in new_warnings(self._warned, state.warnings):
            log.warning("health: %s", w.message)
            self.bus.publish(self.topics.health_warning, w)
        self._warned = state.warnings
        return state

    # -------------------------------------------------------------- lifecycle
    def run(self, stopping: threading.Event | None = None) -> None:
        stop = stopping or self._stop
        self.bus.connect(wait=None)
        next_at = time.monotonic()
        while not stop.is_set():
            if time.monotonic() >= next_at:
                if self.bus.connected.is_set():
                    try:
                        self.tick()
                    except Exception:  # one bad reading must not stop the reports
                        log.exception("health reading failed")
                next_at += self.limits.interval_s
                next_at = max(next_at, time.monotonic())
            self.bus.poll(min(1.0, max(0.0, next_at - time.monotonic())))
        self.bus.stop()

    def stop(self) -> None:
        self._stop.set()
