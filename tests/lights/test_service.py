"""The lights service with the real broker: the director's buttons send commands, the
lap service's last will and a stop of the lights service cut the track power, and
``pitwall lights`` as a process. Pins are gpiozero's MockFactory; the clock is real here,
so these tests wait on conditions, never on fixed sleeps."""

from __future__ import annotations

import json
import time

import pytest

from pitwall import contract
from pitwall.bus import Bus
from pitwall.lights.buttons import Buttons
from pitwall.lights.outputs import Outputs
from pitwall.lights.service import LightsService

from ..conftest import make_settings
from ..support import ServiceProcess
from .conftest import ACTIVE_LOW, PINS

RELAY = PINS["power"]


def wait_until(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.005)
    return result


def relay_on(factory) -> bool:
    return factory.pin(RELAY).state != (RELAY in ACTIVE_LOW)


@pytest.fixture
def button_settings(tmp_path, broker, topic_root):
    return make_settings(tmp_path, broker.port, topic_root, buttons=[
        {"pin": 5, "command": "start", "name": "director"},
        {"pin": 6, "command": "yellow", "name": "driver station 1"},
        {"pin": 13, "command": "green", "active_low": False, "bounce_ms": 50},
    ])


def test_buttons_send_race_commands_through_the_broker(button_settings, probe, factory):
    bus = Bus(button_settings, "lights")
    assert bus.start(wait=5)
    now = [0]
    buttons = Buttons(button_settings.buttons, factory,
                      lambda cmd: bus.publish(bus.topics.race_command, cmd), lambda: now[0])
    try:
        start, yellow, green = factory.pin(5), factory.pin(6), factory.pin(13)
        start.drive_low()  # pressed (to GND, pull-up)
        start.drive_high()
        now[0] += 10_000_000
        start.drive_low()  # 10 ms later: contact bounce, ignored
        start.drive_high()
        now[0] += 1_000_000_000
        yellow.drive_low()
        yellow.drive_high()
        green.drive_high()  # active-high button: pressed when the pin goes high
        green.drive_low()
        topic = probe.topics.race_command
        raw = probe.wait_for(lambda: len(probe.on(topic)) >= 3 and probe.on(topic),
                             what="3 commands")
        commands = [json.loads(p) for p in raw]
        assert [c["cmd"] for c in commands] == ["start", "yellow", "green"]
        assert all(c["id"].startswith(f"button-{pin}-")
                   for c, pin in zip(commands, (5, 6, 13), strict=True))
        # Each is a valid command for the lap service, decoded by the contract's decoder.
        assert [type(contract.decode_command(p)) for p in raw] == \
            [contract.Start, contract.Yellow, contract.Green]
        time.sleep(0.2)
        assert len(probe.on(topic)) == 3  # the bounce sent nothing
    finally:
        buttons.close()
        bus.stop()


def test_lap_service_crash_cuts_track_power(tmp_path, broker, topic_root, probe, factory):
    """A real lap service runs a race to green; kill -9 it: its last will cuts the power."""
    settings = make_settings(tmp_path, broker.port, topic_root, race={
        "start_lead_ms": 0, "hold_min_ms": 0, "hold_max_ms": 0},
        lights={"active_low_pins": ACTIVE_LOW})
    laps = ServiceProcess(tmp_path / "pitwall.toml", "laps").start()
    outputs = Outputs(settings.lights, factory)
    service = LightsService(settings, outputs)
    try:
        assert service.start(wait=5)
        wait_until(lambda: service.laps_online, what="lap service online")
        for cmd in (contract.Setup(mode="practice", entrant="lane"), contract.Start()):
            probe.publish(probe.topics.race_command, cmd)
        wait_until(lambda: factory.pin(12).state != (12 in ACTIVE_LOW), what="first red")
        assert not relay_on(factory)  # no power during the start lights
        wait_until(lambda: relay_on(factory), timeout=8, what="power on at green")
        assert outputs.shown.green
        laps.kill()  # SIGKILL: no goodbye; the broker publishes the last will
        wait_until(lambda: not relay_on(factory), timeout=3, what="power cut")
        assert outputs.shown.red and not service.laps_online
    finally:
        laps.stop()
        service.stop()
        outputs.close()


def test_stopping_the_service_releases_the_relay_and_says_offline(lights_settings, probe,
                                                                  factory):
    outputs = Outputs(lights_settings.lights, factory)
    service = LightsService(lights_settings, outputs)
    assert service.start(wait=5)
    # A lap service stand-in: online, racing under green with power.
    probe.publish(probe.topics.status("laps"), contract.ONLINE, retain=True)
    probe.publish(probe.topics.lights_state, contract.LightsState(
        reds=0, green=True, flag="green", power=True, now_ns=time.monotonic_ns(),
        phase="running"), retain=True)
    wait_until(lambda: relay_on(factory), what="power on")
    service.stop()
    assert not relay_on(factory) and factory.pin(RELAY).state is True  # active-low: high
    status = probe.topics.status("lights")
    probe.wait_for(lambda: probe.on(status)[-1:] == [contract.OFFLINE], what="offline")
    outputs.close()


def test_garbage_lights_state_is_reported_and_changes_nothing(lights_settings, probe,
                                                             factory):
    outputs = Outputs(lights_settings.lights, factory)
    service = LightsService(lights_settings, outputs)
    try:
        assert service.start(wait=5)
        # Retained: it reaches the service however late its subscription settles.
        probe.publish(probe.topics.lights_state, b'{"reds": 9}', retain=True)
        probe.wait_for(lambda: probe.on(probe.topics.errors), what="error report")
        assert outputs.shown.red and not outputs.shown.power  # still no race control
    finally:
        service.stop()
        outputs.close()


def test_pitwall_lights_without_gpio_says_so_in_one_line(tmp_path, broker, topic_root):
    make_settings(tmp_path, broker.port, topic_root)
    proc = ServiceProcess(tmp_path / "pitwall.toml", "lights").start()
    assert proc.proc.wait(15) == 1
    out = proc.output().strip().splitlines()
    assert len(out) == 1 and out[0].startswith("pitwall lights: no GPIO hardware found"), out
    assert "--mock" in out[0]


def test_pitwall_lights_mock_runs_and_stops_cleanly(tmp_path, broker, topic_root, probe):
    make_settings(tmp_path, broker.port, topic_root)
    proc = ServiceProcess(tmp_path / "pitwall.toml", "lights", "--mock").start()
    status = probe.topics.status("lights")
    probe.wait_for(lambda: probe.on(status)[-1:] == [contract.ONLINE], what="online")
    assert proc.stop() == 0, proc.output()
    assert probe.on(status)[-1:] == [contract.OFFLINE]
