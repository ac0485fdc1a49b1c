"""Through the API over the real broker and lap service: records marked live in the race
state, track records and personal bests, a driver's history, a championship over two
races, and the set-up hints (cars seen crossing, the track's entrant kind)."""

from __future__ import annotations

import csv
import io

from .test_races import publish_pass, start_race, wait_json

S = 1_000_000_000
MS = 1_000_000
GRID = [{"car": 1, "driver": "Ann"}, {"car": 2, "driver": "Bob"}]


def race(stack, director, public, ann_ms: list[int], bob_ms: list[int], name: str) -> int:
    """A 3-lap race of Ann (car 1) and Bob (car 2) with these lap times; run to its end."""
    race_id, green = start_race(director, public, mode="laps", laps=3, entrant="car",
                                min_lap_ms=1000, name=name, entrants=GRID)
    passes = []
    for car, laps in ((1, ann_ms), (2, bob_ms)):
        t = green
        for lap in laps:
            t += lap * MS
            passes.append((t, car))
    for t, car in sorted(passes):  # as the sensors would send them
        publish_pass(stack, car, car, t)
    wait_json(public, "/api/races/current",
              lambda s: s["race_id"] == race_id and s["phase"] == "finished", what="finish")
    return race_id


def test_records_history_and_a_championship(stack, director, public):
    first = race(stack, director, public, [4000, 4100, 4200], [4500, 4400, 4600], "Round 1")
    state = public.get("/api/races/current").json()
    # The first race on a new track sets the records quietly: nothing to beat yet.
    assert state["track_record"] is None
    assert [s["record"] for s in state["standings"]] == [None, None]

    second = race(stack, director, public, [3900, 4000, 4000], [3500, 4400, 4400], "Round 2")
    state = public.get("/api/races/current").json()
    assert state["track_record"] == {"driver": "Ann", "lap_ms": 4000.0, "race_id": first}
    marks = {s["driver"]: s["record"] for s in state["standings"]}
    assert marks == {"Bob": "track", "Ann": "pb"}  # Bob's 3.5 beats Ann's 4.0; Ann's 3.9 her 4.0

    held = public.get("/api/records").json()
    assert [(r["driver"], r["lap_ms"], r["race_id"], r["race_name"]) for r in held["track"]] \
        == [("Bob", 3500.0, second, "Round 2")]
    assert [(r["driver"], r["lap_ms"]) for r in held["personal"]] == [("Bob", 3500.0),
                                                                      ("Ann", 3900.0)]
    assert public.get("/api/records", params={"car_class": "GT"}).json() == {
        "track": [], "personal": []}

    ann = public.get("/api/drivers/history", params={"name": "Ann"}).json()
    assert ann["best_ms"] == 3900.0
    assert [(r["race_id"], r["position"], r["entrants"], r["laps"], r["best_ms"])
            for r in ann["races"]] == [(first, 1, 2, 3, 4000.0), (second, 1, 2, 3, 3900.0)]
    assert ann["races"][0]["avg_ms"] == 4100.0
    assert public.get("/api/drivers/history", params={"name": "Nobody"}).json()["races"] == []

    # A championship over both races: 10-6 points, 1 for the fastest lap.
    r = director.post("/api/championships", json={"name": "Winter", "points": [10, 6],
                                                  "fastest_lap": 1})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    for race_id in (first, second):
        r = director.post(f"/api/championships/{cid}/rounds", json={"race_id": race_id})
        assert r.status_code == 201, r.text
    season = public.get(f"/api/championships/{cid}").json()
    assert [(x["no"], x["race_id"], x["finished"]) for x in season["rounds"]] == [
        (1, first, True), (2, second, True)]
    # Round 1: Ann wins with the fastest lap (11), Bob 6. Round 2: Ann 10, Bob 6 + 1.
    assert [(x["driver"], x["points"], x["rounds"], x["wins"]) for x in season["standings"]] \
        == [("Ann", 21, [11, 10], 2), ("Bob", 13, [6, 7], 0)]
    rows = list(csv.reader(io.StringIO(
        public.get(f"/api/championships/{cid}/standings.csv").text)))
    assert rows == [["position", "driver", "points", "wins", "round_1", "round_2"],
                    ["1", "Ann", "21", "2", "11", "10"], ["2", "Bob", "13", "0", "6", "7"]]
    assert public.get("/api/championships").json() == [{"id": cid, "name": "Winter",
                                                       "rounds": 2}]

    # Dropping a round: each driver's worst one goes.
    r = director.post("/api/championships", json={"name": "Drop", "points": [10, 6],
                                                  "drop_worst": 1})
    drop = r.json()["id"]
    for race_id in (first, second):
        director.post(f"/api/championships/{drop}/rounds", json={"race_id": race_id})
    rows = {x["driver"]: x for x in public.get(f"/api/championships/{drop}").json()[
        "standings"]}
    assert (rows["Ann"]["points"], rows["Bob"]["points"]) == (10, 6)
    assert len(rows["Ann"]["dropped"]) == 1

    # Bad requests say what is wrong and change nothing.
    for body, status, says in [({"race_id": 999999}, 404, "no race"),
                               ({"event_id": 999999}, 404, "no heat-rotation event"),
                               ({}, 400, "exactly one"),
                               ({"race_id": first, "event_id": 1}, 400, "exactly one"),
                               ({"race_id": first}, 409, "a round already")]:
        r = director.post(f"/api/championships/{cid}/rounds", json=body)
        assert r.status_code == status and says in r.json()["detail"], (body, r.text)
    assert public.post(f"/api/championships/{cid}/rounds",
                       json={"race_id": first}).status_code == 401
    assert director.post("/api/championships", json={"name": "X", "points": []}
                         ).status_code == 400
    assert director.post("/api/championships", json={"name": "X", "points": [-1]}
                         ).status_code == 400
    assert director.delete(f"/api/championships/{cid}/rounds/9").status_code == 404
    r = director.delete(f"/api/championships/{cid}/rounds/1")
    assert r.status_code == 200 and [x["race_id"] for x in r.json()["rounds"]] == [second]
    assert director.delete(f"/api/championships/{cid}").status_code == 204
    assert public.get(f"/api/championships/{cid}").status_code == 404


def test_setup_hints_cars_seen_and_the_tracks_entrant_kind(stack, public):
    info = public.get("/api/info").json()
    # No [[lanes]] sensors in the test settings: the [race] entrant setting decides.
    assert info["entrant_default"] == "car" and info["demo_director"] is False
    publish_pass(stack, 2, 7, 1)  # outside any race: a car the grid does not know yet
    seen = wait_json(public, "/api/track/seen", lambda s: 7 in s["cars"], what="car 7")
    assert seen["suggested"] == "car" and 2 in seen["lanes"]
