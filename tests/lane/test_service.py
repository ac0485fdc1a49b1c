"""The lane reader with the real bus and broker, and ``pitwall lane`` as a process."""

from __future__ import annotations

import glob
import importlib.util
import os
import signal
import subprocess
import sys

import pytest

from pitwall import contract
from pitwall.bus import Bus
from pitwall.lane.main import publisher
from pitwall.lane.modes import build_reader
from pitwall.lane.reader import ticks_to_ns

from ..conftest import make_settings
from ..support import ServiceProcess
from .conftest import TickPin

TICK = 8765.432109876


def lane_config(tmp_path, broker, topic_root, **lane):
    return make_settings(tmp_path, broker.port, topic_root,
                         lanes=[{"lane": 1, "pin": 17, **lane}])


def test_passes_reach_the_broker_with_exact_edge_times(tmp_path, broker, topic_root, probe,
                                                       factory):
    settings = lane_config(tmp_path, broker, topic_root)
    bus = Bus(settings, "lane1")
    reader = build_reader(settings.lane(1), factory, publisher(bus, 1))
    pin = factory.pin(17)
    assert isinstance(pin, TickPin)
    # One edge before the bus has even connected: it must be queued, not lost.
    pin.edge(False, TICK)
    pin.edge(True, TICK + 0.01)
    assert bus.start(wait=5)
    for lap in range(1, 4):
        pin.edge(False, TICK + 3.1 * lap)
        pin.edge(True, TICK + 3.1 * lap + 0.01)

    topic = probe.topics.lane_pass(1)
    passes = probe.wait_for(lambda: (p := probe.decoded(topic, contract.Pass))
                            and len(p) == 4 and p, what="4 passes")
    assert passes == [contract.Pass(lane=1, car=None, t_ns=ticks_to_ns(TICK + 3.1 * lap),
                                    source="gpio") for lap in range(4)]
    assert passes[0].t_ns == 8_765_432_109_876
    # Every payload is in contract (the lap service decodes with the same decoder).
    assert [contract.decode_pass(raw) for raw in probe.on(topic)] == passes

    status = probe.topics.status("lane1")
    assert contract.ONLINE in probe.on(status)
    reader.close()
    bus.stop()
    probe.wait_for(lambda: probe.on(status)[-1:] == [contract.OFFLINE], what="offline")


def test_decoder_and_ir_passes_through_the_broker(tmp_path, broker, topic_root, probe,
                                                  factory):
    settings = make_settings(tmp_path, broker.port, topic_root, lanes=[
        {"lane": 1, "mode": "decoder", "pin": 17, "id_pins": [5, 6, 13], "hshake_pin": 26},
        {"lane": 2, "mode": "ir", "pin": 22, "ir_system": "scalextric"},
    ])
    buses = [Bus(settings, f"lane{n}") for n in (1, 2)]
    readers = [build_reader(settings.lane(n), factory, publisher(bus, n))
               for n, bus in zip((1, 2), buses, strict=True)]
    for bus in buses:
        assert bus.start(wait=5)

    for pin, level in ((5, True), (6, False), (13, True)):  # b1=1, b2=0, b3=1: car 6
        factory.pin(pin).edge(level, TICK - 1)
    factory.pin(17).edge(False, TICK)
    ir = factory.pin(22)
    for i in range(10):  # Scalextric car 4: (3 + 4) * 48 = 336 µs
        ir.edge(False, TICK + 1 + i * 336e-6)
        ir.edge(True, TICK + 1 + i * 336e-6 + 100e-6)

    got = probe.wait_for(
        lambda: (a := probe.decoded(probe.topics.lane_pass(1), contract.Pass))
        and (b := probe.decoded(probe.topics.lane_pass(2), contract.Pass)) and (a, b),
        what="a pass on each lane")
    assert got == (
        [contract.Pass(lane=1, car=6, t_ns=ticks_to_ns(TICK), source="decoder")],
        [contract.Pass(lane=2, car=4, t_ns=ticks_to_ns(TICK + 1), source="ir")],
    )
    for reader, bus in zip(readers, buses, strict=True):
        reader.close()
        bus.stop()


# ------------------------------------------------------------------ the real command
def pitwall(config, *args, timeout=30) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PITWALL_", "GPIOZERO_"))}
    return subprocess.run([sys.executable, "-m", "pitwall", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def stderr_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def test_unconfigured_lane_exits_2_with_one_line(tmp_path, broker, topic_root):
    lane_config(tmp_path, broker, topic_root)
    result = pitwall(tmp_path / "pitwall.toml", "lane", "--lane", "9")
    assert result.returncode == 2
    assert stderr_lines(result) == [
        "pitwall lane: lane 9 is not configured: add a [[lanes]] table with lane = 9"]


def test_misconfigured_decoder_lane_exits_2_with_one_line(tmp_path, broker, topic_root):
    lane_config(tmp_path, broker, topic_root, mode="decoder", id_pins=[5, 6])
    result = pitwall(tmp_path / "pitwall.toml", "lane", "--lane", "1", "--mock")
    assert result.returncode == 2
    (line,) = stderr_lines(result)
    assert "id_pins needs 3 BCM pins" in line


HAS_GPIO = importlib.util.find_spec("lgpio") is not None and bool(glob.glob("/dev/gpiochip*"))


@pytest.mark.skipif(HAS_GPIO, reason="this machine has GPIO hardware")
def test_without_gpio_hardware_exits_1_with_one_clear_line(tmp_path, broker, topic_root):
    lane_config(tmp_path, broker, topic_root)
    result = pitwall(tmp_path / "pitwall.toml", "lane", "--lane", "1")
    assert result.returncode == 1
    (line,) = stderr_lines(result)
    assert line.startswith("pitwall lane 1: no GPIO hardware found (")
    assert line.endswith("; use --mock for a dry run")
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_mock_run_is_online_and_stops_cleanly(tmp_path, broker, topic_root, probe,
                                              stop_signal):
    config = tmp_path / "pitwall.toml"
    lane_config(tmp_path, broker, topic_root, mode="decoder", id_pins=[5, 6, 13],
                hshake_pin=26)
    service = ServiceProcess(config, "lane", "--lane", "1", "--mock").start()
    try:
        status = probe.topics.status("lane1")
        probe.wait_for(lambda: contract.ONLINE in probe.on(status), timeout=15,
                       what="lane1 online")
        service.proc.send_signal(stop_signal)
        assert service.proc.wait(10) == 0
        probe.wait_for(lambda: probe.on(status)[-1:] == [contract.OFFLINE],
                       what="lane1 offline")
    finally:
        service.stop()
    output = service.output()
    assert "Traceback" not in output
    assert f"{signal.Signals(stop_signal).name}, stopping" in output
