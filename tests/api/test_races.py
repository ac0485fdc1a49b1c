"""A race set up, started and edited through the API, with passes published on MQTT as
the lane readers publish them; every read checked to the nanosecond."""

from __future__ import annotations

import csv
import io
import time

from pitwall import contract

S = 1_000_000_000


def wait_json(client, path, predicate, timeout=10.0, what=None):
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(path).json()
        if predicate(body):
            return body
        assert time.monotonic() < deadline, f"timed out waiting for {what or path}: {body}"
        time.sleep(0.05)


def publish_pass(stack, lane: int, car: int, t_ns: int) -> None:
    stack.probe.publish(stack.probe.topics.lane_pass(lane),
                        contract.Pass(lane=lane, car=car, t_ns=t_ns, source="sim"))


def start_race(director, public, **setup) -> tuple[int, int]:
    r = director.post("/api/races", json=setup)
    assert r.status_code == 201, r.text
    race_id = r.json()["race_id"]
    r = director.post("/api/races/current/start")
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": True, "race_id": race_id}
    state = wait_json(public, "/api/races/current",
                      lambda s: s["race_id"] == race_id and s["start_ns"], what="the plan")
    return race_id, state["start_ns"]


def test_a_race_through_the_api_scores_to_the_nanosecond(stack, director, public):
    race_id, green = start_race(
        director, public, mode="laps", laps=3, entrant="car", min_lap_ms=1000,
        name="API race", entrants=[{"car": 1, "driver": "Ann"}, {"car": 2, "driver": "Bob"}])
    car1 = [green + 4 * S + 11, green + 4 * S + S // 2 + 7,  # the second is too close: suspect
            green + 8 * S + 200_000_013, green + 12 * S + 100_000_017]
    car2 = [green + 4 * S + 100_000_003, green + 8 * S + 5, green + 12 * S + 500_000_001]
    # Before the lights (the first red is 4 s before green: no lead, no hold) and after the
    # set-up (a stamp before it would be refused as not of this race): pre-start.
    pre = green - 4 * S - 1
    publish_pass(stack, 1, 1, pre)
    for t1, t2 in zip(car1, car2 + [None], strict=True):
        publish_pass(stack, 1, 1, t1)
        if t2 is not None:
            publish_pass(stack, 2, 2, t2)
    wait_json(public, "/api/races/current",
              lambda s: s["race_id"] == race_id and s["phase"] == "finished", what="finish")

    counted1 = [car1[0], car1[2], car1[3]]
    expect_laps = sorted(
        [(1, "Ann", n + 1, t - o, t) for n, (t, o) in
         enumerate(zip(counted1, [green] + counted1[:-1], strict=True))]
        + [(2, "Bob", n + 1, t - o, t) for n, (t, o) in
           enumerate(zip(car2, [green] + car2[:-1], strict=True))], key=lambda x: x[4])
    laps = public.get(f"/api/races/{race_id}/laps").json()
    assert [(x["entrant"], x["driver"], x["lap"], x["lap_ns"], x["t_ns"]) for x in laps] \
        == expect_laps
    assert all(x["lap_ms"] == round(x["lap_ns"] / 1e6, 3) for x in laps)

    passes = public.get(f"/api/races/{race_id}/passes").json()
    assert [(p["car"], p["t_ns"], p["kind"]) for p in passes] == sorted(
        [(1, pre, "pre_start"), (1, car1[0], "lap"), (1, car1[1], "suspect"),
         (1, car1[2], "lap"), (1, car1[3], "lap"), (2, car2[0], "lap"), (2, car2[1], "lap"),
         (2, car2[2], "lap")], key=lambda p: p[1])
    suspect = next(p for p in passes if p["kind"] == "suspect")
    assert suspect["lap_ms"] == round((car1[1] - car1[0]) / 1e6, 3)
    assert suspect["source"] == "sim" and suspect["override"] is None

    detail = public.get(f"/api/races/{race_id}").json()
    assert detail["race"]["name"] == "API race" and detail["race"]["entrants"] == 2
    assert detail["start_ns"] == green
    assert detail["config"]["min_lap_ms"] == 1000
    standings = detail["standings"]
    assert [(s["entrant"], s["laps"], s["last_t_ns"], s["finished"]) for s in standings] == [
        (1, 3, car1[3], True), (2, 3, car2[2], True)]
    assert standings[1]["gap_ms"] == round((car2[2] - car1[3]) / 1e6, 3)
    assert standings[0]["best_ms"] == round((car1[3] - car1[2]) / 1e6, 3)
    # The re-score of the stored log and the lap service's live state agree.
    live = public.get("/api/races/current").json()
    assert live["standings"] == standings

    results = public.get(f"/api/races/{race_id}/results.json").json()
    assert results["standings"] == standings and results["race"]["id"] == race_id
    r = public.get(f"/api/races/{race_id}/results.csv")
    assert r.headers["content-type"] == "text/csv; charset=utf-8"  # once, not twice
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(int(x["position"]), x["car"], x["driver"], int(x["laps"]), int(x["last_t_ns"]))
            for x in rows] == [(1, "1", "Ann", 3, car1[3]), (2, "2", "Bob", 3, car2[2])]
    assert rows[0]["finished"] == "true" and rows[0]["gap_s"] == ""
    best_ms = (car1[3] - car1[2]) // 1_000_000  # whole milliseconds, truncated
    assert rows[0]["best_s"] == f"{best_ms // 1000}.{best_ms % 1000:03d}"
    r = public.get(f"/api/races/{race_id}/laps.csv")
    laps_rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sorted((x["car"], x["lap"], x["driver"]) for x in laps_rows) == [
        ("1", "1", "Ann"), ("1", "2", "Ann"), ("1", "3", "Ann"),
        ("2", "1", "Bob"), ("2", "2", "Bob"), ("2", "3", "Bob")]
    first_ms = (car1[0] - green) // 1_000_000
    assert laps_rows[0]["race_time_s"] == laps_rows[0]["lap_s"] == \
        f"{first_ms // 1000}.{first_ms % 1000:03d}"

    listed = public.get("/api/races", params={"limit": 1}).json()
    assert listed[0]["id"] == race_id and listed[0]["phase"] == "finished"
    assert listed[0]["laps"] == 3 and listed[0]["mode"] == "laps"

    # Reinstating the suspect crossing re-scores: Ann's 3rd lap now comes at car1[2].
    r = director.post(f"/api/passes/{suspect['pass_id']}/reinstate")
    assert r.status_code == 200, r.text
    laps = public.get(f"/api/races/{race_id}/laps").json()
    ann = [(x["lap"], x["lap_ns"], x["t_ns"]) for x in laps if x["entrant"] == 1]
    assert ann == [(1, car1[0] - green, car1[0]), (2, car1[1] - car1[0], car1[1]),
                   (3, car1[2] - car1[1], car1[2])]
    passes = public.get(f"/api/races/{race_id}/passes").json()
    by_t = {p["t_ns"]: p for p in passes}
    assert by_t[car1[1]]["override"] == "count" and by_t[car1[3]]["kind"] == "after_finish"
    detail = public.get(f"/api/races/{race_id}").json()
    assert detail["standings"][0]["last_t_ns"] == car1[2]

    # Deleting it instead: ignored, and the race is as it was.
    r = director.post(f"/api/passes/{suspect['pass_id']}/delete")
    assert r.status_code == 200, r.text
    passes = public.get(f"/api/races/{race_id}/passes").json()
    assert {p["t_ns"]: p["kind"] for p in passes}[car1[1]] == "deleted"
    assert public.get(f"/api/races/{race_id}").json()["standings"] == standings


def test_commands_that_do_not_fit_are_409_with_the_lap_services_reason(stack, director,
                                                                         public):
    race_id, green = start_race(director, public, mode="laps", laps=1, entrant="lane",
                                entrants=[{"lane": 1, "driver": "Cat"}])
    r = director.post("/api/races", json={"mode": "laps", "laps": 5,
                                          "entrants": [{"car": 1, "driver": "Ann"}]})
    assert r.status_code == 409 and "finish or abort it first" in r.json()["detail"]
    r = director.post("/api/races/current/green")
    assert r.status_code == 409, r.text
    r = director.post("/api/races/current/abort")
    assert r.status_code == 200 and r.json()["race_id"] == race_id
    r = director.post("/api/races/current/abort")
    assert r.status_code == 409 and r.json() == {"status_code": 409,
                                                 "detail": "the race was already aborted"}
    r = director.post("/api/races", json={"mode": "laps", "entrants": [{"car": 1}]})
    assert r.status_code == 409 and "number of laps" in r.json()["detail"]  # needs laps
    # An empty grid is a forgotten form: refused before it reaches the lap service.
    r = director.post("/api/races", json={"mode": "laps", "laps": 5})
    assert r.status_code == 400 and "add at least one entrant" in r.json()["detail"]
    r = director.post("/api/races", json={"mode": "timed", "duration_s": 60,
                                          "entrants": []})
    assert r.status_code == 400 and "add at least one entrant" in r.json()["detail"]
    r = director.post("/api/passes/999999/reinstate")
    assert r.status_code == 409 and "does not belong to a race" in r.json()["detail"]
    assert public.get("/api/races/999999").status_code == 404
