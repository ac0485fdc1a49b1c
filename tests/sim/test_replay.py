"""``pitwall replay`` as a real process: exact lap times, speed, bad logs."""

from __future__ import annotations

import time
from decimal import Decimal
from fractions import Fraction

import pytest

from ..support import ServiceProcess
from .helpers import lane_passes

LOG = """t_ms,lane,car
81234567.891234,1,3
81234567.891234,2,
81234912.5,1,3
81234988.000001,2,
81235253.123457,1,3
81235390.999999,2,
"""


def replay(tmp_path, *args):
    proc = ServiceProcess(tmp_path / "pitwall.toml", "replay", *args).start()
    try:
        rc = proc.proc.wait(15)
    finally:
        proc.stop()
    return rc, proc.output()


def offsets(rows):
    """(ns since the first pass, lane, car) in time order, then lane."""
    first = min(t for t, _, _ in rows)
    return sorted((t - first, lane, car) for t, lane, car in rows)


@pytest.mark.parametrize("speed", ["1", "4"])
def test_replay_reproduces_recorded_times(settings, probe, tmp_path, speed):
    log = tmp_path / "race.csv"
    log.write_text(LOG)
    rc, output = replay(tmp_path, str(log), "--speed", speed)
    assert rc == 0, output
    assert "published 6 of 6 passes" in output
    passes = probe.wait_for(lambda: (p := lane_passes(probe)) and len(p) >= 6 and p,
                            what="6 replayed passes")
    assert len(passes) == 6 and {p.source for p in passes} == {"replay"}
    recorded = []
    for line in LOG.splitlines()[1:]:
        t_ms, lane, car = line.split(",")
        exact = (Decimal(t_ms) - Decimal("81234567.891234")) * 1_000_000
        recorded.append((round(Fraction(exact) / int(speed)), int(lane),
                         int(car) if car else None))
    # speed 1: every difference equals the log's to the nanosecond; speed 4: a quarter,
    # rounded to whole ns (344_608_766 / 4 = 86_152_191.5 -> 86_152_192, half to even)
    assert offsets([(p.t_ns, p.lane, p.car) for p in passes]) == sorted(recorded)
    # the first pass is stamped at replay time on this machine's monotonic clock
    assert 0 < time.monotonic_ns() - min(p.t_ns for p in passes) < 10_000_000_000


def test_bad_log_exits_2_naming_the_line_and_publishes_nothing(settings, probe, tmp_path):
    log = tmp_path / "bad.csv"
    log.write_text("t_ms,lane,car\n1000,1,1\n1300,2,\n1600,lane2,\n1900,1,1\n")
    rc, output = replay(tmp_path, str(log))
    assert rc == 2
    assert "line 4" in output and "lane 'lane2'" in output
    time.sleep(0.2)
    assert probe.messages == []  # not even a status: the file is checked first


@pytest.mark.parametrize("speed", ["0", "-2", "fast"])
def test_speed_must_be_positive(settings, probe, tmp_path, speed):
    log = tmp_path / "race.csv"
    log.write_text(LOG)
    rc, output = replay(tmp_path, str(log), "--speed", speed)
    assert rc == 2 and "--speed" in output
    assert probe.messages == []
