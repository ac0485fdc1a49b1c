"""Fixtures for backups: a lap service process on the session's Mosquitto, and the
``pitwall backup`` command run as a maintainer runs it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import make_settings
from ..laps.conftest import command
from ..support import MqttProbe, ServiceProcess

RACE = {"start_lead_ms": 0, "hold_min_ms": 0, "hold_max_ms": 0, "min_lap_ms": 1}


@pytest.fixture
def box(tmp_path, broker, topic_root):
    """Settings, a probe and a running lap service process (``box.laps``)."""
    settings = make_settings(tmp_path, broker.port, topic_root, race=RACE, track_lanes=4)
    probe = MqttProbe(settings)
    laps = ServiceProcess(tmp_path / "pitwall.toml", "laps").start()
    try:
        probe.wait_online("laps")
        yield Box(tmp_path, settings, probe, laps)
    finally:
        laps.stop()
        probe.close()


class Box:
    def __init__(self, tmp: Path, settings, probe: MqttProbe, laps: ServiceProcess) -> None:
        self.tmp, self.settings, self.probe, self.laps = tmp, settings, probe, laps
        self.config = tmp / "pitwall.toml"
        self.data = Path(settings.data_dir)

    def pitwall(self, *args: str, timeout: float = 60,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("PITWALL_")},
               **(env or {})}
        return subprocess.run([sys.executable, "-m", "pitwall", "--config", str(self.config),
                               *args], capture_output=True, text=True, env=env,
                              timeout=timeout)

    def command(self, cmd):
        return command(self.probe, cmd)

    def passes(self, db: Path | None = None) -> list[tuple[int, int, int]]:
        """(race, lane, t_ns) of every pass stored, in order."""
        return rows(db or self.data / "pitwall.db",
                    "SELECT race_id, lane, t_ns FROM pass ORDER BY id")


def rows(db: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
