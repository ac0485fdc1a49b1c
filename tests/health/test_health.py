"""The health publisher: readings from a fake /sys and /proc and a fake vcgencmd, the
firmware's throttling bits, thresholds, and the retained state and warnings over the
session's real Mosquitto."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from pitwall import contract
from pitwall.health.checks import new_warnings, warnings
from pitwall.health.readings import (
    SYS_THROTTLED,
    Readings,
    parse_cpu_times,
    parse_meminfo,
    parse_throttled,
    throttle_flags,
)
from pitwall.health.service import HealthService, systemd_units, unit_service

from ..conftest import make_settings
from ..support import MqttProbe

MEMINFO = """MemTotal:        3884096 kB
MemFree:          211860 kB
MemAvailable:    2953408 kB
Buffers:           68812 kB
"""
STAT = "cpu  1000 0 500 8000 500 0 0 0 0 0\ncpu0 500 0 250 4000 250 0 0 0 0 0\n"


def fake_root(tmp_path: Path, *, temp_mc: int | None = 48312, throttled: str | None = None,
              stat: str = STAT, written: int = 1000) -> Path:
    root = tmp_path / "root"
    files = {"proc/uptime": "3600.52 7000.10\n", "proc/loadavg": "0.52 0.31 0.20 1/180 999\n",
             "proc/meminfo": MEMINFO, "proc/stat": stat}
    if temp_mc is not None:
        files["sys/class/thermal/thermal_zone0/temp"] = f"{temp_mc}\n"
    if throttled is not None:
        files[SYS_THROTTLED] = throttled
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    dev = os.stat(data).st_dev
    files["proc/diskstats"] = (
        f" 179 0 mmcblk0 100 0 800 10 50 0 {written + 7} 30 0 40 40\n"
        f" {os.major(dev)} {os.minor(dev)} data0 100 0 800 10 50 0 {written} 30 0 40 40\n")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize(("text", "bits"), [
    ("throttled=0x0\n", 0), ("throttled=0x50005\n", 0x50005), ("50000\n", 0x50000),
    ("throttled=garbage", None), ("", None)])
def test_throttled_text_from_vcgencmd_or_sys(text, bits):
    assert parse_throttled(text) == bits


def test_throttle_bits_mean_what_the_firmware_documents():
    flags = throttle_flags(0x50005)  # under-voltage now, throttled now, both since boot
    assert [k for k, on in flags.items() if on] == [
        "under_voltage", "throttled", "under_voltage_occurred", "throttled_occurred"]
    assert not any(throttle_flags(0).values())
    assert [k for k, on in throttle_flags(0x80008).items() if on] == [
        "soft_temp_limit", "soft_temp_limit_occurred"]


def test_parsers_take_real_kernel_text():
    assert parse_meminfo(MEMINFO) == (3884096, 2953408)
    assert parse_meminfo("MemTotal: 5 kB\n") is None  # a kernel without MemAvailable
    assert parse_cpu_times(STAT) == (1500, 10000)


def test_readings_from_a_fake_pi(tmp_path):
    root = fake_root(tmp_path, throttled="50005\n")
    snap = Readings(str(tmp_path / "data"), root=str(root), vcgencmd="").read()
    assert snap.uptime_s == 3600.52 and snap.cpu_temp_c == 48.312
    assert snap.throttled == 0x50005 and snap.load == (0.52, 0.31, 0.20)
    assert snap.mem_kib == (3884096, 2953408) and snap.sectors_written == 1000
    assert snap.disk_bytes[0] >= snap.disk_bytes[1] > 0


def test_vcgencmd_is_asked_when_sys_has_no_throttle_file(tmp_path):
    root = fake_root(tmp_path)
    tool = tmp_path / "vcgencmd"
    tool.write_text("#!/bin/sh\n[ \"$1\" = get_throttled ] && echo throttled=0x10000\n")
    tool.chmod(0o755)
    assert Readings(str(tmp_path / "data"), root=str(root), vcgencmd=str(tool)).read() \
        .throttled == 0x10000
    broken = tmp_path / "broken"
    broken.write_text("#!/bin/sh\necho 'VCHI initialization failed' >&2; exit 255\n")
    broken.chmod(0o755)
    assert Readings(str(tmp_path / "data"), root=str(root), vcgencmd=str(broken)).read() \
        .throttled is None


def test_a_laptop_reports_unknown_not_zero(tmp_path):
    root = fake_root(tmp_path, temp_mc=None)
    snap = Readings(str(tmp_path / "data"), root=str(root), vcgencmd="").read()
    assert snap.throttled is None and snap.cpu_temp_c is None


def make_service(tmp_path, root, **health) -> HealthService:
    settings = make_settings(tmp_path, 1, "t", health=health)
    return HealthService(settings, Readings(settings.data_dir, root=str(root), vcgencmd=""),
                         systemd=lambda: None)


def test_rates_between_two_readings_and_warnings(tmp_path):
    service = make_service(tmp_path, fake_root(tmp_path, temp_mc=81000, throttled="50005"))
    first = service.state(100.0, service.readings.read())
    assert first.cpu_percent is None and first.disk_write_kib_s is None  # no rate yet
    later = fake_root(tmp_path, temp_mc=81000, throttled="50005", written=3048,
                      stat="cpu  1500 0 500 9500 500 0 0 0 0 0\n")
    service.readings = Readings(service.settings.data_dir, root=str(later), vcgencmd="")
    second = service.state(102.0, service.readings.read())
    assert second.cpu_percent == 25.0  # 500 busy of 2000 jiffies
    assert second.disk_write_kib_s == 512.0  # 2048 sectors of 512 bytes (1 MiB) in 2 s
    levels = {w.check: w.level for w in second.warnings}
    assert levels == {"temperature": "critical", "under_voltage": "critical",
                      "throttled": "warning"}


def test_thresholds_disk_memory_and_services():
    def state(**kw):
        base = dict(at=0.0, version="x", uptime_s=1.0, cpu_temp_c=50.0, cpu_percent=1.0,
                    load=[0.1, 0.1, 0.1], mem_total_mib=1000.0, mem_available_mib=500.0,
                    disk_total_mib=10_000.0, disk_free_mib=5000.0, disk_write_kib_s=0.0,
                    throttle=None, services=[], warnings=[])
        return contract.HealthState(**{**base, **kw})

    from pitwall.settings import HealthSettings

    limits = HealthSettings()
    assert warnings(state(), limits) == []
    assert [w.level for w in warnings(state(disk_free_mib=900.0), limits)] == ["warning"]
    assert [w.level for w in warnings(state(disk_free_mib=50.0), limits)] == ["critical"]
    assert [w.check for w in warnings(state(mem_available_mib=10.0), limits)] == ["memory"]
    services = [contract.ServiceHealth(name="laps", mqtt="offline"),
                contract.ServiceHealth(name="lane1", mqtt="offline"),
                contract.ServiceHealth(name="lights", mqtt="online", systemd="failed")]
    assert [(w.check, w.level) for w in warnings(state(services=services), limits)] == [
        ("service:laps", "critical"), ("service:lane1", "warning"),
        ("service:lights", "critical")]
    # Announced once: a repeat is quiet, a worse level is news, a better one is not.
    disk = warnings(state(disk_free_mib=900.0), limits)
    assert new_warnings([], disk) == disk and new_warnings(disk, disk) == []
    worse = warnings(state(disk_free_mib=50.0), limits)
    assert new_warnings(disk, worse) == worse and new_warnings(worse, disk) == []


def test_systemd_units_are_read_from_systemctl_show(monkeypatch):
    shown = ("Id=pitwall-laps.service\nActiveState=active\nNRestarts=2\n"
             "ActiveEnterTimestamp=Sun 2026-12-06 19:00:00 UTC\n\n"
             "Id=pitwall-lane@1.service\nActiveState=failed\nNRestarts=5\n"
             "ActiveEnterTimestamp=\n")

    class Done:
        stdout = shown

    monkeypatch.setattr("pitwall.health.service.Path.is_dir", lambda self: True)
    units = systemd_units(lambda *a, **k: Done())
    assert {unit_service(u): p["ActiveState"] for u, p in units.items()} == {
        "laps": "active", "lane1": "failed"}


def test_health_state_and_warnings_over_the_real_broker(tmp_path, broker, topic_root):
    settings = make_settings(tmp_path, broker.port, topic_root, health={"interval_s": 1})
    root = fake_root(tmp_path, throttled="0")
    probe = MqttProbe(settings)
    probe.publish(probe.topics.status("laps"), contract.ONLINE, retain=True)
    probe.publish(probe.topics.status("lane1"), contract.ONLINE, retain=True)
    service = HealthService(settings, Readings(settings.data_dir, root=str(root),
                                               vcgencmd=""), systemd=lambda: None)
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    thread.start()
    try:
        first = probe.wait_for(lambda: probe.decoded(probe.topics.health_state,
                                                     contract.HealthState), what="health")[0]
        assert first.cpu_temp_c == 48.312 and first.throttle.raw == 0
        assert [(s.name, s.mqtt) for s in first.services] == [("lane1", "online"),
                                                              ("laps", "online")]
        assert first.warnings == []
        # The firmware reports under-voltage and a lane reader dies: warned once each.
        (root / SYS_THROTTLED).write_text("50005")
        probe.publish(probe.topics.status("lane1"), contract.OFFLINE, retain=True)
        probe.wait_for(lambda: {w.check for w in probe.decoded(
            probe.topics.health_warning, contract.HealthWarning)} >= {
            "under_voltage", "service:lane1"}, what="warnings")
        probe.wait_for(lambda: len(probe.on(probe.topics.health_state)) >= 4, timeout=6,
                       what="more readings")
        warned = [w.check for w in probe.decoded(probe.topics.health_warning,
                                                 contract.HealthWarning)]
        assert sorted(warned) == ["service:lane1", "throttled", "under_voltage"]  # once
        last = probe.decoded(probe.topics.health_state, contract.HealthState)[-1]
        assert {w.check for w in last.warnings} == set(warned)  # still listed while true
    finally:
        stop.set()
        thread.join(5)
        probe.close()
    assert not thread.is_alive()
    # Retained: a maintainer's page that connects later gets the latest at once.
    late = MqttProbe(settings)
    try:
        late.wait_for(lambda: late.on(late.topics.health_state), what="retained health")
    finally:
        late.close()
