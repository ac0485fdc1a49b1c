"""Live push over a real uvicorn: WebSocket /api/live and SSE /api/live/events."""

from __future__ import annotations

import json
import socket
import time

import pytest

from pitwall import contract
from pitwall.dev.broker import Mosquitto
from pitwall.api.app import create_app
from pitwall.api.live import MAX_BACKLOG
from tests.conftest import make_settings
from tests.laps.conftest import RunningService, send_pass, start_race

from .live_support import LiveClients, frames_until, serve

SECOND = 1_000_000_000


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def server(app):
    with serve(app) as base:
        yield base


@pytest.fixture
def clients(server):
    c = LiveClients(server)
    yield c
    c.close()


def kinds(frames):
    return [f["type"] for f in frames]


def test_without_a_lap_service_first_frames_say_idle_and_stale(clients):
    before = time.monotonic_ns()
    frames = frames_until(clients.websocket(), lambda f: len(f) >= 3)
    assert kinds(frames[:3]) == ["state", "lights", "status"]
    state = contract.decode(json.dumps(frames[0]["data"]).encode(), contract.RaceState)
    assert state.phase == "idle" and state.race_id is None
    assert frames[1]["data"]["power"] is False
    assert frames[2]["data"] == {"laps": False, "mqtt": True}
    assert before <= frames[0]["now_ns"] <= time.monotonic_ns()


def test_laps_reach_every_client_with_exact_times_and_status_follows_the_service(
        settings, clients, probe):
    service = RunningService(settings)
    try:
        plan = start_race(probe, mode="laps", laps=5, entrant="lane", min_lap_ms=1000)
        sockets = [clients.websocket() for _ in range(3)]
        sse = clients.sse()
        for frames in [*sockets, sse]:
            first = frames_until(frames, lambda f: len(f) >= 3)[:3]
            assert kinds(first) == ["state", "lights", "status"]
            assert first[0]["data"]["race_id"] == plan.race_id
            assert first[0]["data"]["lights"]["green_ns"] == plan.start_ns
            assert first[2]["data"] == {"laps": True, "mqtt": True}
        assert [f["_event"] for f in sse[:3]] == ["state", "lights", "status"]

        green = plan.start_ns
        crossings = [green + 3 * SECOND + 123_457, green + 6 * SECOND + 246_913]
        for t in crossings:
            send_pass(probe, 1, t)
        for frames in [*sockets, sse]:
            laps = frames_until(frames, lambda f: len([x for x in f if x["type"] == "lap"]) >= 2)
            laps = [x["data"] for x in laps if x["type"] == "lap"]
            assert [lap["lap_ns"] for lap in laps] == [3 * SECOND + 123_457,
                                                       3 * SECOND + 123_456]
            assert [lap["t_ns"] for lap in laps] == crossings
            frames_until(frames, lambda f: any(x["type"] == "state" and x["data"]["standings"]
                                               and x["data"]["standings"][0]["laps"] == 2
                                               for x in f))
    finally:
        service.stop()
    for frames in [*sockets, sse]:
        frames_until(frames, lambda f: f[-1]["type"] == "status"
                     and f[-1]["data"] == {"laps": False, "mqtt": True})


def stuck_websocket(base: str) -> socket.socket:
    """A WebSocket that completes the handshake and then never reads a byte."""
    host, port = base.split(":")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((host, int(port)))
    s.sendall(f"GET /api/live HTTP/1.1\r\nHost: {base}\r\nUpgrade: websocket\r\n"
              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    assert s.recv(12) == b"HTTP/1.1 101"
    return s


def fat_standings() -> list[contract.Standing]:
    """Twenty standings with long names: a state frame of about 5 KB."""
    return [contract.Standing(
        position=i, entrant=i, driver=f"Driver {i} " * 20, laps=0, last_ms=None,
        best_ms=None, gap_ms=None, gap_laps=0, finished=False, last_t_ns=None,
        jump_start=False) for i in range(1, 21)]


def test_a_client_that_never_reads_does_not_delay_the_others(app, server, clients, probe):
    live = app.state["live"]
    stuck = [stuck_websocket(server) for _ in range(2)]
    reader = clients.websocket()
    frames_until(reader, lambda f: len(f) >= 3)
    # ~8 MB per client in all, far more than the socket buffers hold, so the stuck
    # clients' sends block early; chunks of 50 stay within every client's backlog.
    standings = fat_standings()
    count, chunk = 1500, 50
    start = time.monotonic()
    for first in range(0, count, chunk):
        for n in range(first, first + chunk):
            state = contract.RaceState(race_id=n, phase="running", now_ns=n,
                                       standings=standings)
            probe.client.publish(probe.topics.race_state, contract.encode(state), qos=1)
        frames_until(reader, lambda f, last=first + chunk - 1: f[-1]["data"].get(
            "race_id") == last, timeout=2)
    elapsed = time.monotonic() - start
    got = [f["data"]["race_id"] for f in reader if f["type"] == "state"][1:]
    assert got == list(range(count)), "the reading client lost frames"
    assert elapsed < 8, f"{count} frames took {elapsed:.1f} s to reach the reader"
    backlogs = sorted(b.qsize for b in live.websockets)
    assert backlogs[-2:] == [MAX_BACKLOG, MAX_BACKLOG], "the stuck clients never blocked"
    for s in stuck:
        s.close()


def test_a_lap_and_its_state_go_as_one_array_to_clients_that_ask(app, clients):
    live = app.state["live"]
    batched, plain = [], []
    batch_frames = clients.websocket(batch=True, messages=batched)
    plain_frames = clients.websocket(messages=plain)
    frames_until(batch_frames, lambda f: len(f) >= 3)
    frames_until(plain_frames, lambda f: len(f) >= 3)
    # The snapshot was ready at once: one array for the batch client, three messages else.
    assert [f["type"] for f in batched[0]] == ["state", "lights", "status"]
    assert len(plain) == 3 and all(isinstance(m, dict) for m in plain)

    lap = contract.encode(contract.LapEvent(race_id=1, entrant=2, lap=1, lap_ns=SECOND,
                                            lap_ms=1000.0, t_ns=5 * SECOND, suspect=False,
                                            pass_id=1))
    state = contract.encode(contract.RaceState(race_id=1, phase="running", now_ns=6))

    live.lap_hold_s = 0.5  # a lap waits this long for its state (3 ms in service)
    live._loop.call_soon_threadsafe(live._fan_out, "lap", lap)
    time.sleep(0.1)  # the state comes later than the clients could have had the lap
    assert len(batch_frames) == len(plain_frames) == 3, "the lap was not held"
    live._loop.call_soon_threadsafe(live._fan_out, "state", state)
    frames_until(batch_frames, lambda f: len(f) >= 5)
    frames_until(plain_frames, lambda f: len(f) >= 5)
    assert [f["type"] for f in batched[1]] == ["lap", "state"], "not one message"
    assert batched[1][0]["data"]["t_ns"] == 5 * SECOND
    assert batched[1][0]["now_ns"] == plain_frames[3]["now_ns"], "stamped once, for all"
    assert [m["type"] for m in plain[3:]] == ["lap", "state"]
    live.lap_hold_s = 0.05
    live._loop.call_soon_threadsafe(live._fan_out, "lap", lap)  # no state follows:
    frames_until(batch_frames, lambda f: len(f) >= 6)  # the lap goes alone after the hold
    assert isinstance(batched[2], dict) and batched[2]["type"] == "lap"
    frames_until(plain_frames, lambda f: len(f) >= 6)


def test_a_websocket_that_stops_reading_is_closed_and_the_others_carry_on(
        app, server, clients, probe):
    live = app.state["live"]
    live.send_timeout_s = 1.0
    stuck = stuck_websocket(server)
    reader = clients.websocket()
    frames_until(reader, lambda f: len(f) >= 3)
    big = contract.RaceState(race_id=1, phase="running", now_ns=1,
                             standings=fat_standings())
    deadline = time.monotonic() + 15
    while len(live.websockets) > 1:  # until the watchdog let the stuck one go
        assert time.monotonic() < deadline, "the stuck client was never closed"
        for _ in range(50):  # more than the socket buffers hold: its send blocks
            probe.client.publish(probe.topics.race_state, contract.encode(big), qos=1)
        time.sleep(0.2)
    assert live.clients["websocket"] == 1
    got = len(reader)
    probe.publish(probe.topics.race_state, contract.RaceState(race_id=2, phase="ready",
                                                             now_ns=2), retain=True)
    frames_until(reader, lambda f: len(f) > got and f[-1]["data"].get("race_id") == 2)
    stuck.close()


def test_malformed_state_does_not_reach_browsers_or_stop_the_bridge(clients, probe):
    frames = clients.websocket()
    frames_until(frames, lambda f: len(f) >= 3)
    probe.publish(probe.topics.race_state, b"{garbage", retain=True)
    probe.publish(probe.topics.race_state, b'{"phase": "warp"}', retain=True)
    good = contract.RaceState(race_id=9, phase="ready", now_ns=5)
    probe.publish(probe.topics.race_state, good, retain=True)
    frames_until(frames, lambda f: f[-1]["type"] == "state" and f[-1]["data"]["race_id"] == 9)
    assert [f["data"].get("race_id") for f in frames[3:]] == [9]


def test_broker_going_away_and_back_is_announced(tmp_path, topic_root):
    with Mosquitto() as broker:
        settings = make_settings(tmp_path, broker.port, topic_root)
        with serve(create_app(settings)) as base:
            clients = LiveClients(base)
            try:
                frames = frames_until(clients.websocket(), lambda f: len(f) >= 3)
                assert frames[2]["data"] == {"laps": False, "mqtt": True}
                broker.stop()
                frames_until(frames, lambda f: f[-1]["data"] == {"laps": False, "mqtt": False})
                broker.start()
                frames_until(frames, lambda f: f[-1]["data"] == {"laps": False, "mqtt": True})
            finally:
                clients.close()
