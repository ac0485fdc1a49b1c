"""Faults: kill -9 of the lap service, a broker restart, and malformed input.

The reference for "no pass lost" is the pure core scoring the full pass list: what an
uninterrupted lap service would have produced.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from pitwall import contract
from pitwall.core import SECOND, Crossing, Race, StartPlan
from pitwall.dev.broker import Mosquitto
from pitwall.laps.store import config_from_json

from ..conftest import make_settings
from ..support import MqttProbe, ServiceProcess
from .conftest import command, send_pass, start_race


def race_passes(green: int, lanes: int = 4, laps: int = 40, seed: int = 7):
    """Realistic passes in time order: (lane, t_ns)."""
    rng = random.Random(seed)
    out = []
    for lane in range(1, lanes + 1):
        t = green
        for _ in range(laps):
            t += rng.randint(2_500_000_000, 3_500_000_000)
            out.append((lane, t))
    return sorted(out, key=lambda p: p[1])


def stored(db_path) -> tuple[int, list[tuple]]:
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        n = con.execute("select count(*) from pass").fetchone()[0]
        laps = con.execute("select entrant, lap, lap_ns from lap order by entrant, lap").fetchall()
        row = con.execute("select config, red_ns, green_ns from race").fetchone()
        return n, laps, row
    finally:
        con.close()


def reference(row, passes):
    config_json, red_ns, green_ns = row
    plan = StartPlan(tuple(msgspec.json.decode(red_ns)), green_ns)
    race = Race(config_from_json(config_json), plan,
                crossings=[Crossing(i, lane, None, t) for i, (lane, t) in enumerate(passes, 1)])
    return race.standings()


def publish_in_background(probe, passes, per_second: float):
    def run():
        for lane, t in passes:
            send_pass(probe, lane, t)
            time.sleep(1 / per_second)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def wait_online(probe) -> None:
    status = probe.topics.status("laps")
    probe.wait_for(lambda: probe.on(status)[-1:] == [contract.ONLINE], what="lap service online")


def wait_for_count(db_path, n, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if stored(db_path)[0] >= n:
                return
        except sqlite3.Error:
            pass
        time.sleep(0.1)
    raise AssertionError(f"fewer than {n} passes stored after {timeout} s")


@pytest.mark.slow
def test_kill_9_mid_race_loses_no_pass(tmp_path, settings, probe):
    config = tmp_path / "pitwall.toml"
    service = ServiceProcess(config, "laps").start()
    try:
        wait_online(probe)
        state = start_race(probe, mode="laps", laps=30, entrant="lane", min_lap_ms=1000)
        passes = race_passes(state.start_ns)
        publisher = publish_in_background(probe, passes, per_second=200)
        wait_for_count(settings.database_path, 40)
        service.kill()  # mid-race, mid-batch: no chance to clean up
        time.sleep(0.3)  # passes keep coming while it is down
        service = ServiceProcess(config, "laps").start()
        publisher.join(30)
        wait_for_count(settings.database_path, len(passes))
        time.sleep(0.5)  # let it publish the final state
        n, laps, row = stored(settings.database_path)
        assert n == len(passes), "every pass stored exactly once"
        expected = reference(row, passes)
        final = probe.wait_for(lambda: (s := probe.last_state()) and s.phase == "finished" and s,
                               what="finished race")
        assert [(s.entrant, s.laps, s.last_t_ns) for s in final.standings] == \
            [(s.entrant, s.laps, s.last_t_ns) for s in expected]
        assert sum(s.laps for s in expected) == len(laps)
    finally:
        service.stop()


@pytest.mark.slow
def test_broker_restart_with_persistence_loses_no_pass(tmp_path, topic_root):
    with Mosquitto(persistence=True, workdir=tmp_path / "mqtt") as broker:
        settings = make_settings(tmp_path, broker.port, topic_root)
        service = ServiceProcess(tmp_path / "pitwall.toml", "laps").start()
        probe = MqttProbe(settings)
        try:
            wait_online(probe)
            state = start_race(probe, mode="laps", laps=30, entrant="lane", min_lap_ms=1000)
            passes = race_passes(state.start_ns, laps=20)
            publisher = publish_in_background(probe, passes, per_second=150)
            wait_for_count(settings.database_path, 20)
            broker.restart()  # publisher and lap service reconnect on their own
            publisher.join(30)
            wait_for_count(settings.database_path, len(passes), timeout=40)
            n, laps, row = stored(settings.database_path)
            assert n == len(passes)
            expected = reference(row, passes)
            assert sum(s.laps for s in expected) == len(laps)
        finally:
            probe.close()
            service.stop()


# ---------------------------------------------------------------- malformed input
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.text(max_size=6), children, max_size=3),
    max_leaves=6)

# Each strategy is out of contract by construction.
bad_passes = st.one_of(
    st.binary(max_size=40).filter(lambda b: not b.strip().startswith(b"{")),
    json_values.filter(lambda v: not isinstance(v, dict)).map(msgspec.json.encode),
    st.dictionaries(st.text(max_size=6), json_values, max_size=4).map(
        lambda d: msgspec.json.encode({**d, "zz_unknown": 1, "lane": 1, "t_ns": 1})),
    st.integers(max_value=0).map(lambda n: msgspec.json.encode({"lane": n, "t_ns": 5})),
    st.integers(max_value=-1).map(lambda n: msgspec.json.encode({"lane": 1, "t_ns": n})),
    st.text(max_size=5).map(lambda s: msgspec.json.encode({"lane": 1, "t_ns": s})),
    st.just(msgspec.json.encode({"lane": 2, "t_ns": 9})),  # lane 2 on lane 1's topic
)
bad_commands = st.one_of(
    st.binary(max_size=40).filter(lambda b: not b.strip().startswith(b"{")),
    st.text(max_size=10).filter(lambda s: s not in (
        "setup", "start", "yellow", "green", "red", "finish", "abort", "reinstate", "delete"))
    .map(lambda c: msgspec.json.encode({"cmd": c})),
    st.integers().map(lambda n: msgspec.json.encode({"cmd": "setup", "laps": -abs(n) - 1})),
    st.just(msgspec.json.encode({"cmd": "reinstate"})),
)


@pytest.fixture(scope="module")
def garbage_rig(tmp_path_factory, broker):
    """One lap service for all Hypothesis examples (a service per example is too slow)."""
    import uuid

    from .conftest import RunningService

    tmp = tmp_path_factory.mktemp("garbage")
    # Each example ends with yellow + green; no countdown, so the next example's passes
    # (stamped a second apart from the start) count at once.
    # One report per bad message: no rate limit here (test_hardening.py tests that).
    root = f"g{uuid.uuid4().hex[:8]}"
    settings = make_settings(tmp, broker.port, root,
                             mqtt={"port": broker.port, "topic_root": root,
                                   "error_burst": 100_000},
                             race={"start_lead_ms": 0, "hold_min_ms": 0, "hold_max_ms": 0,
                                   "green_countdown_ms": 0})
    running = RunningService(settings)
    probe = MqttProbe(settings)
    state = start_race(probe, mode="practice", entrant="lane", min_lap_ms=0)
    probe.wait_for(lambda: probe.last_state().phase == "running", timeout=10, what="green")
    counters = {"t": state.start_ns, "laps": 0}  # across examples: never reuse an edge time
    yield running, probe, counters
    probe.close()
    running.stop()


@hsettings(max_examples=30, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(passes=st.lists(bad_passes, min_size=20, max_size=60),
       commands=st.lists(bad_commands, min_size=5, max_size=30))
def test_malformed_messages_are_reported_and_valid_ones_still_count(garbage_rig, passes,
                                                                     commands):
    running, probe, counters = garbage_rig
    topics = probe.topics
    errors_before = len(probe.on(topics.errors))
    for i, payload in enumerate(passes):
        probe.client.publish(topics.lane_pass(1), payload, qos=1)
        if i % 10 == 0:  # a valid pass among the garbage
            counters["t"] += SECOND
            counters["laps"] += 1
            send_pass(probe, 1, counters["t"])
    for payload in commands:
        probe.client.publish(topics.race_command, payload, qos=1)
    want = errors_before + len(passes) + len(commands)
    probe.wait_for(lambda: len(probe.on(topics.errors)) >= want, timeout=20,
                   what=f"{want} error reports")
    # A state published before the example's first valid pass is scored has no standings
    # yet: keep waiting rather than fail on it.
    probe.wait_for(lambda: (standings := probe.last_state().standings)
                   and standings[0].laps == counters["laps"], what="valid passes counted")
    assert len(probe.on(topics.errors)) == want  # one report per bad message, no more
    assert running.thread.is_alive()
    # ...and it still takes commands (laps resume counting after green)
    assert command(probe, contract.Yellow()).ok
    assert command(probe, contract.Green()).ok
