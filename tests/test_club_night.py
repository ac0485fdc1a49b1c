"""A whole club night, end to end, as a director runs it from race control's API: a
heat rotation for six drivers on two lanes, its results, the points into a championship,
then (after a lap-service restart) a race in which a track record and a personal best
fall, shown in the live state and kept in the records.

The lap service runs in this process on a clock 20 times faster than real time (so six
10-second heats take seconds); the API is a real `pitwall api` process on the same
broker and database.
"""

from __future__ import annotations

import time
import uuid

import httpx

from pitwall.dev.broker import free_port
from pitwall.laps.service import LapService

from .api.test_races import wait_json
from .conftest import make_settings
from .laps.conftest import RunningService, send_pass
from .laps.test_heats import DRIVERS, HEAT_S, REACTION, SPEED, expected_score, lap_ns
from .support import MqttProbe, ServiceProcess

PIN = "8642"


def test_a_club_night_heats_results_championship_and_a_record(tmp_path, broker):
    base = time.monotonic_ns()

    def fast_clock() -> int:
        return base + (time.monotonic_ns() - base) * SPEED

    port = free_port()
    settings = make_settings(
        tmp_path, broker.port, f"t{uuid.uuid4().hex[:10]}", track_lanes=2, director_pin=PIN,
        api={"host": "127.0.0.1", "port": port},
        race={"start_lead_ms": 0, "hold_min_ms": 0, "hold_max_ms": 0,
              "green_countdown_ms": 0})
    probe = MqttProbe(settings)
    laps = RunningService(settings, lambda s: LapService(s, clock=fast_clock))
    api = ServiceProcess(tmp_path / "pitwall.toml", "api").start()
    d = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    try:
        _up(d)
        wait_json(d, "/api/health", lambda h: h["laps_online"], 20, "the API")
        assert d.post("/api/auth/login", json={"pin": PIN}).status_code == 200

        # ---- the heat rotation, set up and started as race control does
        r = d.post("/api/events", json={"name": "Club night", "drivers": DRIVERS,
                                        "duration_s": HEAT_S, "pause_s": 2})
        assert r.status_code == 201, r.text
        state = wait_json(d, "/api/races/current", lambda s: s["event"], 20, "heat 1")
        event_id = state["event"]["id"]
        assert d.post("/api/races/current/start").status_code == 200
        for heat in range(1, 7):
            state = wait_json(d, "/api/races/current",
                              lambda s, h=heat: s["event"]["heat"] == h and s["start_ns"],
                              20, f"heat {heat} started")
            grid = state["event"]["grid"]
            crossings = sorted((state["start_ns"] + REACTION + k * lap_ns(g["driver"],
                                                                           g["lane"]),
                                g["lane"]) for g in grid for k in range(1, 7))
            for t, lane in crossings:
                send_pass(probe, lane, t)
        event = wait_json(d, f"/api/events/{event_id}", lambda e: e["finished"],
                          20, "the event's end")
        want = {x: round(expected_score(x, 1) + expected_score(x, 2), 3) for x in DRIVERS}
        assert {r["driver"]: r["total"] for r in event["standings"]} == want
        assert [r["driver"] for r in event["standings"]] == DRIVERS  # quickest first
        assert event["standings"][0]["best_ms"] == 2000.0  # Ann's laps on lane 1
        assert [(e["id"], e["finished"]) for e in d.get("/api/events").json()] == [
            (event_id, True)]
        assert {r["event"] for r in d.get("/api/races").json()} == {event_id}

        # ---- the points into a championship
        r = d.post("/api/championships", json={"name": "Winter series",
                                               "points": [10, 8, 6, 5, 4, 3],
                                               "fastest_lap": 1})
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        r = d.post(f"/api/championships/{cid}/rounds", json={"event_id": event_id})
        assert r.status_code == 201, r.text
        season = r.json()
        assert [(x["driver"], x["points"]) for x in season["standings"]] == [
            ("Ann", 11), ("Bob", 8), ("Cy", 6), ("Dee", 5), ("Eve", 4), ("Fay", 3)]

        # ---- the lap service restarts; records come back from storage
        laps.stop()
        laps = RunningService(settings, lambda s: LapService(s, clock=fast_clock))
        r = d.post("/api/races", json={
            "mode": "laps", "laps": 3, "entrant": "lane", "min_lap_ms": 1000,
            "name": "Final", "entrants": [{"lane": 1, "driver": "Ann"},
                                          {"lane": 2, "driver": "Bob"}]})
        assert r.status_code == 201, r.text
        final = r.json()["race_id"]
        state = wait_json(d, "/api/races/current", lambda s: s["race_id"] == final, 20, "final")
        assert state["track_record"]["driver"] == "Ann"
        assert state["track_record"]["lap_ms"] == 2000.0
        assert d.post("/api/races/current/start").status_code == 200
        green = wait_json(d, "/api/races/current", lambda s: s["start_ns"], 20, "green")[
            "start_ns"]
        # Ann laps in 1.9 s (the record was her 2.0); Bob in 2.05 (his best was 2.1).
        passes = sorted([(green + k * 1_900_000_000, 1) for k in range(1, 4)]
                        + [(green + k * 2_050_000_000, 2) for k in range(1, 4)])
        for t, lane in passes:
            send_pass(probe, lane, t)
        state = wait_json(d, "/api/races/current", lambda s: s["phase"] == "finished",
                          20, "the final's end")
        assert {s["driver"]: s["record"] for s in state["standings"]} == {
            "Ann": "track", "Bob": "pb"}
        held = d.get("/api/records").json()
        assert [(x["driver"], x["lap_ms"], x["race_id"]) for x in held["track"]] == [
            ("Ann", 1900.0, final)]
        bests = {x["driver"]: x["lap_ms"] for x in held["personal"]}
        assert bests["Bob"] == 2050.0 and bests["Fay"] == 2500.0

        # ---- the final is round 2; Ann's history shows both nights' races
        r = d.post(f"/api/championships/{cid}/rounds", json={"race_id": final})
        assert [(x["driver"], x["points"], x["rounds"]) for x in r.json()["standings"]][:2] \
            == [("Ann", 22, [11, 11]), ("Bob", 16, [8, 8])]
        history = d.get("/api/drivers/history", params={"name": "Ann"}).json()
        assert history["best_ms"] == 1900.0
        assert [x["event_id"] for x in history["races"]] == [event_id] * 2 + [None]  # her two heats
    finally:
        d.close()
        api.stop()
        laps.stop()
        probe.close()


def _up(client: httpx.Client, timeout: float = 20) -> None:
    """Wait until the API answers at all (the process takes a moment to start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client.get("/api/health")
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the API process did not start")
