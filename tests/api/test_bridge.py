"""The API's MQTT bridge against a real broker and a real lap service."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from pitwall import contract
from pitwall.api.bridge import Bridge, CommandTimeout, Unavailable
from tests.laps.conftest import RunningService


@pytest.fixture
def bridge(settings):
    b = Bridge(settings)
    b.start(wait=5)
    assert b.connected
    yield b
    b.stop()


def wait(predicate, timeout=5.0, what="condition"):
    done = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        done.wait(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_follows_the_lap_service_and_sends_commands(settings, bridge):
    heard: list[tuple[str, bytes]] = []
    bridge.add_listener(lambda kind, payload: heard.append((kind, payload)))
    assert not bridge.laps_online()
    service = RunningService(settings)
    try:
        wait(bridge.laps_online, what="lap service online")
        wait(lambda: bridge.state() and bridge.lights(), what="retained state and lights")
        assert json.loads(bridge.state())["phase"] == "idle"
        reply = asyncio.run(bridge.command(contract.Setup(mode="laps", laps=5, name="Heat 1")))
        assert reply.ok and reply.cmd == "setup" and reply.race_id is not None
        wait(lambda: json.loads(bridge.state())["name"] == "Heat 1", what="new state")
        assert ("state", bridge.state()) in heard
        assert ("status", b'{"laps":true,"mqtt":true}') in heard
    finally:
        service.stop()
    wait(lambda: not bridge.laps_online(), what="lap service offline")
    assert heard[-1] == ("status", b'{"laps":false,"mqtt":true}')


def test_command_is_not_sent_while_the_lap_service_is_away(bridge, probe):
    with pytest.raises(Unavailable):
        asyncio.run(bridge.command(contract.Start()))
    assert probe.on(probe.topics.race_command) == []


def test_command_times_out_without_a_reply(bridge, probe):
    probe.publish(probe.topics.status("laps"), contract.ONLINE, retain=True)  # a silent "service"
    wait(bridge.laps_online, what="status online")
    with pytest.raises(CommandTimeout):
        asyncio.run(bridge.command(contract.Start(), timeout=0.3))
    sent = probe.wait_for(lambda: probe.on(probe.topics.race_command), what="command")
    assert json.loads(sent[0])["cmd"] == "start" and json.loads(sent[0])["id"]


def test_malformed_state_is_dropped_and_the_last_good_one_kept(bridge, probe):
    good = contract.encode(contract.RaceState(race_id=3, phase="ready", now_ns=1))
    probe.publish(probe.topics.race_state, good, retain=True)
    wait(lambda: bridge.state() == good, what="good state")
    probe.publish(probe.topics.race_state, b"{not json", retain=True)
    probe.publish(probe.topics.race_state, b'{"race_id": "x"}', retain=True)
    later = contract.encode(contract.RaceState(race_id=3, phase="running", now_ns=2))
    probe.publish(probe.topics.lights_state, b"[]")
    probe.publish(probe.topics.race_state, later, retain=True)
    wait(lambda: bridge.state() == later, what="the bridge carries on")
    assert bridge.lights() is None
