"""Shared helpers for the benchmarks: a rig (private Mosquitto + lap service process),
a light MQTT watcher, a bulk publisher, and result reporting.

Benchmarks are scripts, not tests: they print figures, save them as JSON under
``bench-results/`` and say whether each target was met. They never assert a target.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: make ``tests.*`` importable
    sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
import psutil  # noqa: E402
from paho.mqtt.client import CallbackAPIVersion, Client  # noqa: E402
from paho.mqtt.enums import MQTTProtocolVersion  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

from pitwall import contract  # noqa: E402
from pitwall import settings as settings_mod  # noqa: E402
from pitwall.dev.broker import Mosquitto  # noqa: E402
from tests.support import MqttProbe, ServiceProcess, write_config  # noqa: E402

RESULTS = ROOT / "bench-results"
BENCH_DIR = Path(__file__).resolve().parent
SESSION_EXPIRY_S = 3600
MIB = 1024 * 1024


def parse_args(description: str, *options: tuple[str, dict]) -> argparse.Namespace:
    """--quick, and a benchmark's own ``options`` as (flag, add_argument keywords)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small counts (smoke test)")
    for flag, kw in options:
        parser.add_argument(flag, **kw)
    return parser.parse_args()


# ---------------------------------------------------------------- MQTT clients
def mqtt_client(client_id: str | None = None, **kw) -> Client:
    client = Client(CallbackAPIVersion.VERSION2,
                    client_id=client_id or f"bench-{uuid.uuid4().hex[:8]}",
                    protocol=MQTTProtocolVersion.MQTTv5, **kw)
    client.max_queued_messages_set(0)
    return client


def session_properties(expiry_s: int = SESSION_EXPIRY_S) -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = expiry_s
    return props


def create_session(port: int, client_id: str, topic_filter: str) -> None:
    """Create a persistent session subscribed to ``topic_filter``, then leave it."""
    client = mqtt_client(client_id)
    subscribed = threading.Event()
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect("127.0.0.1", port, clean_start=False, properties=session_properties())
    client.loop_start()
    client.subscribe(topic_filter, qos=contract.QOS)
    if not subscribed.wait(5):
        raise RuntimeError(f"could not subscribe session {client_id}")
    client.disconnect()
    client.loop_stop()


class Watcher(MqttProbe):
    """The tests' probe on a few topics only (not ``#``: it must not compete with the
    service for CPU), with the waits the benchmarks need."""

    def __init__(self, settings: settings_mod.Settings, *extra_filters: str) -> None:
        topics = contract.Topics(settings.mqtt.topic_root)
        super().__init__(settings, [topics.status("laps"), topics.race_state,
                                    topics.race_reply, *extra_filters])

    def wait_online(self, since: int, timeout: float = 20.0) -> int:
        """Arrival time of the first ``online`` on status/laps after message ``since``."""
        topic = self.topics.status("laps")

        def online():
            return next((a for a, p in self.timed(topic, since) if p == contract.ONLINE), None)

        return self.wait_for(online, timeout, "the lap service to be online", poll=0.005)

    def wait_laps(self, total: int, since: int, timeout: float) -> int:
        """Arrival time of the first race/state after ``since`` whose laps sum to ``total``.

        The service publishes its state after each batch is committed, so this is the
        moment the last lap is on disk, seen from outside.
        """
        scanned = [since]  # each state is decoded once

        def done():
            end = self.mark()
            states = self.timed(self.topics.race_state, scanned[0])
            scanned[0] = end
            for arrival, payload in states:
                state = msgspec.json.decode(payload, type=contract.RaceState)
                if sum(s.laps for s in state.standings) >= total:
                    return arrival
            return None

        return self.wait_for(done, timeout, f"{total} laps in race/state", poll=0.05)



class Publisher:
    """A paho client for bulk QoS 1 publishing (many messages in flight)."""

    def __init__(self, port: int, inflight: int = 1000) -> None:
        self.client = mqtt_client()
        self.client.max_inflight_messages_set(inflight)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish_all(self, messages: Iterator[tuple[str, bytes]], timeout: float = 120) -> int:
        """Publish everything and wait until the broker has acknowledged all of it."""
        infos = [self.client.publish(topic, payload, qos=contract.QOS)
                 for topic, payload in messages]
        deadline = time.monotonic() + timeout
        for info in infos:
            info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            if not info.is_published():
                raise TimeoutError(f"broker did not acknowledge {len(infos)} messages in time")
        return len(infos)

    def publish(self, topic: str, payload: bytes):
        return self.client.publish(topic, payload, qos=contract.QOS)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def passes(topics: contract.Topics, n: int, lanes: int, first_ns: int,
           step_ns: int) -> Iterator[tuple[str, bytes]]:
    """``n`` valid passes, lanes in turn, ``t_ns`` increasing by ``step_ns`` overall."""
    for i in range(n):
        lane = i % lanes + 1
        yield topics.lane_pass(lane), contract.encode(
            contract.Pass(lane=lane, t_ns=first_ns + i * step_ns, source="sim"))


# ---------------------------------------------------------------- the rig
class Rig:
    """A private Mosquitto, a settings file in a temp dir, and the lap service process.

    The race start is shortened (no lead, no hold: green 4 s after ``start``) so that
    benchmarks do not wait; everything else is the default configuration.
    """

    def __init__(self, name: str, broker: type[Mosquitto] = Mosquitto,
                 extra: dict | None = None) -> None:
        self.name = name
        self._tmp = tempfile.TemporaryDirectory(prefix=f"pitwall-bench-{name}-")
        self.dir = Path(self._tmp.name)
        self.broker = broker(workdir=self.dir / "mqtt").start()
        self.config = write_config(self.dir / "pitwall.toml", {
            "data_dir": str(self.dir / "data"),
            "mqtt": {"port": self.broker.port, "topic_root": f"bench{uuid.uuid4().hex[:6]}"},
            "race": {"start_lead_ms": 0, "hold_min_ms": 0, "hold_max_ms": 0},
            **(extra or {}),  # e.g. [[lanes]] for pit sensors
        })
        self.settings = settings_mod.load(self.config, environ={})
        self.topics = contract.Topics(self.settings.mqtt.topic_root)
        self.db_path = Path(self.settings.data_dir) / "pitwall.db"
        self.service: ServiceProcess | None = None

    def start_service(self, watcher: Watcher, timeout: float = 20.0) -> tuple[int, int]:
        """Start ``pitwall laps``; (launch ns, online ns) on CLOCK_MONOTONIC."""
        since = watcher.mark()
        self.service = ServiceProcess(self.config, "laps", log=self.dir / "laps.log")
        launched = time.monotonic_ns()
        self.service.start()
        online = watcher.wait_online(since, timeout)
        return launched, online

    def stop_service(self) -> None:
        if self.service:
            code = self.service.stop()
            if code not in (0, None):
                print(f"  (lap service exited with {code}; log: {self.service.log_path})")
            self.service = None

    def start_api(self, timeout: float = 30.0) -> tuple[ServiceProcess, str]:
        """Start ``pitwall api`` on a free localhost port; (process, base URL) once
        ``/api/health`` answers."""
        import httpx

        from pitwall.dev.broker import free_port

        port = free_port()
        api = ServiceProcess(self.config, "api", "--host", "127.0.0.1", "--port", str(port),
                             log=self.dir / "api.log").start()
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    return api, base
            except httpx.HTTPError:
                pass
            if not api.alive() or time.monotonic() > deadline:
                api.stop()
                raise RuntimeError(f"pitwall api did not come up: {api.output()[-2000:]}")
            time.sleep(0.1)

    def start_race(self, watcher: Watcher, **setup) -> contract.RaceState:
        """Practice, keyed by lane, every crossing counts; returns the started state."""
        from tests.laps.conftest import start_race  # the test suite's own helper

        setup = {"mode": "practice", "entrant": "lane", "min_lap_ms": 0, **setup}
        return start_race(watcher, **setup)

    def query(self, sql: str, *params) -> list[tuple]:
        """Read the service's SQLite file (read-only)."""
        db = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()

    def counts(self) -> tuple[int, int]:
        """(passes, laps) stored."""
        (p,), = self.query("SELECT count(*) FROM pass")
        (lp,), = self.query("SELECT count(*) FROM lap")
        return p, lp

    def close(self) -> None:
        self.stop_service()
        self.broker.close()
        self._tmp.cleanup()

    def __enter__(self) -> Rig:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def wait_green(state: contract.RaceState) -> None:
    """Sleep until the race's green moment (same CLOCK_MONOTONIC as the service)."""
    left = (state.start_ns - time.monotonic_ns()) / 1e9
    if left > 0:
        time.sleep(left + 0.01)


def percentiles(values: list[float], digits: int = 2) -> dict:
    """p50, p99 and max of ``values`` (nearest rank)."""
    ordered = sorted(values)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    return {"n": len(ordered), "p50": round(rank(0.50), digits), "p99": round(rank(0.99), digits),
            "max": round(ordered[-1], digits)}


def idle_python(imports: str) -> dict:
    """The RSS of a Python that has only imported ``imports`` (a benchmark's baseline)."""
    import subprocess

    code = f"import {imports}, sys; print('ready', flush=True); sys.stdin.read()"
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        proc.stdout.readline()
        return memory(proc.pid)
    finally:
        proc.stdin.close()
        proc.wait(5)


def memory(pid: int) -> dict:
    """A process's resident set size now and its peak (VmHWM), in MiB."""
    rss = psutil.Process(pid).memory_info().rss
    peak = None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) * 1024
    return {"rss_mib": round(rss / MIB, 1), "peak_mib": round(peak / MIB, 1) if peak else None}


# ---------------------------------------------------------------- reporting
def target(what: str, value: float, op: str, goal: float, unit: str = "") -> dict:
    met = value >= goal if op == ">=" else value <= goal
    print(f"  target: {what} {op} {goal:g}{unit} (measured {value:,.6g}{unit}): "
          f"{'met' if met else 'NOT met'}")
    return {"what": what, "value": value, "op": op, "goal": goal, "unit": unit, "met": met}


def save(name: str, quick: bool, figures: dict, targets: list[dict]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {
        "name": name,
        "quick": quick,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "machine": platform.machine()},
        "figures": figures,
        "targets": targets,
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"  saved {path.relative_to(ROOT)}")
    return path
