"""The cluster on real engines (``make test-cluster``; about two minutes): two tracks, each
with its Mosquitto bridged over TLS (through a relay this test can cut) to the central
Mosquitto, PostgreSQL with an archive writer per track, three API replicas per track
behind HAProxy, and spectators' WebSocket clients on every replica and through HAProxy.

Both tracks race at once. Mid-race a replica of track A is killed (-9): its clients that
came through HAProxy move to another replica and get the race state at once. Then track
B's bridge is cut for 30 s while B races on, and restored. At the end every lap of both
tracks has reached every client on every live replica, and is in PostgreSQL exactly once,
row for row as in the track's own database.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path

import httpx
import pytest
from paho.mqtt.client import CallbackAPIVersion, Client

from pitwall import contract
from pitwall.cluster.up import Cluster

from ..api.director import log_in
from ..api.test_races import wait_json
from .clients import Spectators
from .relay import Relay

pytestmark = pytest.mark.cluster

S = 1_000_000_000
LAPS = 40
QUICK_START = {"start_lead_ms": 0, "hold_min_ms": 0, "hold_max_ms": 0}
TABLES = ("race", "pass", "control", "lap")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    pytest.importorskip("psycopg2", reason="make test-cluster installs the PostgreSQL driver")
    folder = tmp_path_factory.mktemp("cluster")
    cluster = Cluster(folder, ["a", "b"], replicas=3, restart=False,
                      track_settings={"race": QUICK_START})
    relays = {t.name: Relay(cluster.tls_port) for t in cluster.tracks}
    cluster.bridge_ports = {name: r.port for name, r in relays.items()}
    cluster.start()
    cluster.relays = relays
    yield cluster
    cluster.stop()
    for relay in relays.values():
        relay.close()


class Sensors:
    """Two lanes of one track: passes published to the track's own broker at QoS 1, each
    stamped when it is sent (a real sensor's edge time), never re-stamped."""

    def __init__(self, port: int) -> None:
        self.client = Client(CallbackAPIVersion.VERSION2, client_id=f"s-{uuid.uuid4().hex}")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.topics = contract.Topics("pitwall")
        self.sent = 0

    def cross(self, lane: int) -> None:
        p = contract.Pass(lane=lane, car=None, t_ns=time.monotonic_ns(), source="sim")
        self.client.publish(self.topics.lane_pass(lane), contract.encode(p), qos=1)
        self.sent += 1

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def director(track) -> httpx.Client:
    """The track's director through HAProxy: the challenge login, every request signed
    (the replicas take no plain PIN: no client of theirs is the box itself)."""
    client = httpx.Client(base_url=track.url, timeout=10)
    assert client.post("/api/auth/login", json={"pin": track.pin}).status_code == 403
    log_in(client, track.pin)
    return client


def start_race(track) -> int:
    http = director(track)
    try:
        r = http.post("/api/races", json={
            "mode": "laps", "laps": LAPS, "entrant": "lane", "min_lap_ms": 200,
            "name": f"Track {track.name}", "entrants": [{"lane": 1, "driver": "Ann"},
                                                          {"lane": 2, "driver": "Bob"}]})
        assert r.status_code == 201, r.text
        race = r.json()["race_id"]
        assert http.post("/api/races/current/start").status_code == 200
        wait_json(http, "/api/races/current",
                  lambda s: s["race_id"] == race and s["phase"] == "running", what="green")
    finally:
        http.close()
    return race


def rows(db, table: str) -> list[tuple]:
    return [tuple(r) for r in db.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()]  # noqa: S608


def _first_difference(mine: list[tuple], archive: list[tuple]) -> str:
    if len(mine) != len(archive):
        return f"{len(mine)} rows on the track, {len(archive)} in the archive"
    for a, b in zip(mine, archive, strict=True):
        if a != b:
            return f"track {a} archive {b}"
    return ""


def pg_rows(url: str, table: str) -> list[tuple]:
    import psycopg2

    with psycopg2.connect(url) as con, con.cursor() as cur:
        cur.execute(f'SELECT * FROM "{table}" ORDER BY id')  # noqa: S608
        return [tuple(r) for r in cur.fetchall()]


def test_two_tracks_every_lap_everywhere_exactly_once(cluster):
    a, b = cluster.tracks
    spectators = Spectators()
    direct = {t.name: [[spectators.add(f"http://127.0.0.1:{port}", follow=False)
                        for _ in range(3)] for port in t.replica_ports] for t in cluster.tracks}
    through = {t.name: [spectators.add(t.url, follow=True) for _ in range(9)]
               for t in cluster.tracks}
    sensors = {t.name: Sensors(t.broker.port) for t in cluster.tracks}
    try:
        spectators.wait_connected()
        races = {t.name: start_race(t) for t in cluster.tracks}

        def lap(names, n: int, gap_s: float) -> None:
            for _ in range(n):
                time.sleep(gap_s)
                for name in names:  # both lanes of both tracks cross together
                    sensors[name].cross(1)
                    sensors[name].cross(2)

        lap("ab", 8, 0.3)
        # A replica of track A dies mid-race.
        killed = a.replicas[0]
        killed_port = a.replica_ports[0]
        killed.kill()
        lap("ab", 8, 0.3)
        # Track B's link to the centre goes down for 30 s; B races on, A too.
        cluster.relays["b"].cut()
        cut_at, during_cut = time.monotonic(), 0
        while time.monotonic() - cut_at < 30:
            lap("ab", 1, 1.5)
            during_cut += 1
        cluster.relays["b"].restore()
        lap("ab", LAPS - 8 - 8 - during_cut + 1, 0.3)  # to the flag, and one more

        for track in cluster.tracks:
            with httpx.Client(base_url=track.url, timeout=10) as http:
                wait_json(http, "/api/races/current",
                          lambda s, r=races[track.name]: s["race_id"] == r
                          and s["phase"] == "finished", timeout=90,
                          what=f"track {track.name} finished")
        expected = {name: {(races[name], lane, n) for lane in (1, 2)
                           for n in range(1, LAPS + 1)} for name in races}

        # Every lap of both tracks in PostgreSQL exactly once, as the track stored it.
        for track in cluster.tracks:
            track_db = sqlite3.connect(Path(track.config).parent / "data" / "pitwall.db")
            deadline = time.monotonic() + 30
            while True:
                differ = [(t, _first_difference(rows(track_db, t),
                                                pg_rows(track.database_url, t)))
                          for t in TABLES]
                differ = [d for d in differ if d[1]]
                if not differ:
                    break
                assert time.monotonic() < deadline, f"track {track.name}: PostgreSQL " \
                    f"differs from the track's database: {differ}"
                time.sleep(0.5)
            laps = pg_rows(track.database_url, "lap")
            keys = [(r[1], r[3], r[4]) for r in laps]  # race, entrant, lap
            assert len(keys) == len(set(keys)), "a lap is in the archive twice"
            assert set(keys) == expected[track.name]
            track_db.close()

        # Every live replica's clients got every lap pushed live, the cut included.
        def all_in(clients, want, attr):
            return all(want <= getattr(c, attr) for c in clients)

        deadline = time.monotonic() + 15
        for name in races:
            for port_clients, port in zip(direct[name], cluster.tracks[
                    "ab".index(name)].replica_ports, strict=True):
                if port == killed_port:
                    continue
                while not all_in(port_clients, expected[name], "live"):
                    assert time.monotonic() < deadline, \
                        f"track {name} replica {port}: laps missing " \
                        f"{sorted(expected[name] - port_clients[0].live)[:10]}"
                    time.sleep(0.2)
        # The clients that came through HAProxy: none lost a lap; those of the killed
        # replica reconnected elsewhere and had the race state at once.
        for name in races:
            for c in through[name]:
                assert expected[name] <= c.laps, (name, sorted(expected[name] - c.laps)[:10])
        moved = [c for c in through["a"] if c.connects > 1]
        assert moved, ("no client was on the killed replica (HAProxy spreads 9 over 3)",
                       [(c.connects, c.errors[-1:]) for c in through["a"]])
        assert all(c.state_after_s[-1] < 2.0 for c in moved), \
            [c.state_after_s for c in moved]
        assert not any(c.connects > 1 for c in through["b"]), "track B's clients dropped"
    finally:
        spectators.close()
        for s in sensors.values():
            s.close()
    outputs = [c.output() for c in cluster.children if c is not killed]
    assert not any("Traceback" in out for out in outputs), \
        next(out for out in outputs if "Traceback" in out)[-3000:]


def test_the_single_writer_restarts_and_takes_up_its_race(cluster):
    """The track's lap service killed with -9 and started again (systemd's job on a
    real box): the time until its race state is back on the central replicas."""
    a = cluster.tracks[0]
    with httpx.Client(base_url=a.url, timeout=10) as http:
        before = http.get("/api/races/current").json()["race_id"]
        a.laps.kill()
        wait_json(http, "/api/health", lambda h: not h["laps_online"], timeout=30,
                  what="the lap service seen offline (its last will)")
        started = time.monotonic()
        a.laps.start()
        wait_json(http, "/api/health", lambda h: h["laps_online"], timeout=30,
                  what="the lap service online again")
        recovered = time.monotonic() - started
        assert http.get("/api/races/current").json()["race_id"] == before
    # docs/scale-out.md quotes this figure (plus systemd's RestartSec).
    print(f"\nsingle writer: started again -> online on the central replicas, its race "
          f"taken up, in {recovered:.2f} s")
