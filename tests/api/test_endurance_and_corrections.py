"""Through the API: an endurance race's stints, kart pool and projection; and the
director's lap corrections (a missed crossing added, a crossing's time corrected)."""

from __future__ import annotations

import csv
import io
import time

from .test_races import publish_pass, start_race, wait_json

S = 1_000_000_000
TEAMS = [{"car": 1, "driver": "Red", "drivers": ["Ann", "Bob"], "kart": 11},
         {"car": 2, "driver": "Blue", "drivers": ["Cy"], "kart": 12}]


def test_endurance_reads_and_team_commands(stack, director, public):
    race_id, green = start_race(
        director, public, mode="endurance", duration_s=3600, entrant="car", min_lap_ms=200,
        name="Enduro", entrants=TEAMS, spare_karts=[13],
        pit={"required_stops": 1, "min_pit_s": 0})
    for k in range(1, 6):
        publish_pass(stack, 1, 11, green + k * 3 * S // 10)  # kart 11: team Red
        publish_pass(stack, 2, 12, green + k * 4 * S // 10)  # kart 12: team Blue
    # Pit calls are stamped when given: after those laps, under way.
    wait_json(public, "/api/races/current",
              lambda s: sum(t["laps"] for t in s["standings"]) == 10, what="ten laps")
    time.sleep(max(0.0, (green + 2 * S + S // 10 - time.monotonic_ns()) / S))
    assert director.post("/api/races/current/teams/1/pit_in").status_code == 200
    r = director.post("/api/races/current/teams/1/driver", json={"driver": "Bob"})
    assert r.status_code == 200, r.text
    r = director.post("/api/races/current/teams/1/pit_out", json={"kart": 12})
    assert r.status_code == 409 and "driven by team 2" in r.json()["detail"]
    r = director.post("/api/races/current/teams/1/pit_out", json={"kart": 13})
    assert r.status_code == 200, r.text
    assert public.post("/api/races/current/teams/2/pit_in").status_code == 401

    def red(state):
        return next(t for t in state["standings"] if t["entrant"] == 1)

    state = wait_json(public, "/api/races/current", lambda s: red(s)["pit"]["stops"] == 1
                      and not red(s)["pit"]["in_pit"], what="Red's stop")
    red = red(state)
    assert (red["kart"], red["stint"]["no"], red["stint"]["driver"]) == (13, 2, "Bob")

    stints = public.get(f"/api/races/{race_id}/stints").json()
    assert [(s["team"], s["stint"], s["driver"], s["car"], s["laps"]) for s in stints] == [
        ("Red", 1, "Ann", 11, 5), ("Red", 2, "Bob", 13, 0), ("Blue", 1, "Cy", 12, 5)]
    assert stints[0]["avg_ms"] == 300.0 and stints[0]["pit_ms"] is not None
    rows = list(csv.DictReader(io.StringIO(
        public.get(f"/api/races/{race_id}/stints.csv").text)))
    assert [r["driver"] for r in rows] == ["Ann", "Bob", "Cy"] and rows[0]["avg_ms"] == "300.0"

    pool = public.get(f"/api/races/{race_id}/karts").json()
    assert {k["kart"]: k["team"] for k in pool["karts"]} == {11: None, 12: 2, 13: 1}
    assert pool["pool"] == [11]
    assert {k["kart"]: k["pace"] for k in pool["karts"]}[11] == "good"
    assert pool["good_probability"] == 1.0  # the only kart waiting is a good one

    projection = public.get(f"/api/races/{race_id}/projection").json()
    assert {p["entrant"]: p["stops_left"] for p in projection} == {1: 0, 2: 1}

    detail = public.get(f"/api/races/{race_id}").json()
    assert detail["config"]["entrants"][0]["drivers"] == ["Ann", "Bob"]
    assert detail["config"]["pit"]["required_stops"] == 1
    assert director.post("/api/races/current/finish").status_code == 200


def test_endurance_reads_of_another_race_are_404_with_the_reason(stack, director, public):
    race_id, _ = start_race(director, public, mode="timed", duration_s=60, entrant="car",
                            entrants=[{"car": 1, "driver": "Ann"}])
    r = public.get(f"/api/races/{race_id}/stints")
    assert r.status_code == 404 and "endurance" in r.json()["detail"]
    assert director.post("/api/races/current/teams/1/pit_in").status_code == 409
    assert director.post("/api/races/current/abort").status_code == 200


def test_a_missed_lap_added_and_a_crossing_time_corrected(stack, director, public):
    race_id, green = start_race(
        director, public, mode="timed", duration_s=600, entrant="car", min_lap_ms=1000,
        entrants=[{"car": 4, "driver": "Dee"}])
    for k in (1, 3, 4):  # the sensor missed the crossing at 2 s... well, at 8 s
        publish_pass(stack, 1, 4, green + k * 4 * S)
    wait_json(public, f"/api/races/{race_id}/laps", lambda laps: len(laps) == 3)
    r = director.post(f"/api/races/{race_id}/passes", json={"lane": 1, "car": 4,
                                                           "race_ms": 8000.5})
    assert r.status_code == 200, r.text
    laps = wait_json(public, f"/api/races/{race_id}/laps", lambda laps: len(laps) == 4)
    assert [lap["lap_ms"] for lap in laps] == [4000.0, 4000.5, 3999.5, 4000.0]
    passes = public.get(f"/api/races/{race_id}/passes").json()
    manual = next(p for p in passes if p["source"] == "manual")
    assert manual["t_ns"] == green + 8 * S + 500_000

    first = passes[0]
    r = director.post(f"/api/passes/{first['pass_id']}/time", json={"race_ms": 3900})
    assert r.status_code == 200, r.text
    laps = wait_json(public, f"/api/races/{race_id}/laps",
                     lambda laps: laps[0]["lap_ms"] == 3900.0, what="corrected lap")
    assert laps[1]["lap_ms"] == 4100.5
    moved = next(p for p in public.get(f"/api/races/{race_id}/passes").json()
                 if p["pass_id"] == first["pass_id"])
    assert moved["sensor_t_ns"] == green + 4 * S and moved["t_ns"] == green + 3_900_000_000

    r = director.post(f"/api/races/{race_id}/passes", json={"lane": 1, "car": 4})
    assert r.status_code == 400 and "race_ms or t_ns" in r.text
    r = director.post(f"/api/races/{race_id}/passes",
                      json={"lane": 1, "car": 4, "t_ns": green + 4 * 4 * S})
    assert r.status_code == 409 and "already has a crossing" in r.json()["detail"]
    assert director.post("/api/races/99999/passes",
                         json={"lane": 1, "race_ms": 5}).status_code == 404
    assert director.post("/api/races/current/abort").status_code == 200
