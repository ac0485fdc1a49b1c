"""Club formats in the pure core: heat plans and scoring, championships, records."""

from __future__ import annotations

import pytest

from pitwall.core import SECOND, RaceError, championship, heats, records

S = SECOND


@pytest.mark.parametrize("lanes", range(2, 9))
@pytest.mark.parametrize("drivers", range(2, 25))
def test_every_driver_races_every_lane_exactly_once(drivers, lanes):
    plan = heats.plan(drivers, lanes)
    assert len(plan) == max(drivers, lanes)
    for heat in plan:
        on = [d for d in heat if d is not None]
        assert len(on) == len(set(on)) == min(lanes, drivers)  # full where it can be
    for d in range(drivers):
        lanes_raced = [heat.index(d) for heat in plan if d in heat]
        assert sorted(lanes_raced) == list(range(lanes))


def test_rotation_moves_each_driver_up_one_lane_and_sits_them_out_in_turn():
    plan = heats.plan(3, 2)
    assert plan == [[0, 2], [1, 0], [2, 1]]
    assert [heats.sitting_out(h, 3) for h in plan] == [[1], [2], [0]]
    assert heats.plan(2, 4)[0] == [0, None, None, 1]


@pytest.mark.parametrize(("drivers", "lanes"), [(1, 2), (4, 1), (4, 9), (65, 4)])
def test_plan_limits(drivers, lanes):
    with pytest.raises(RaceError):
        heats.plan(drivers, lanes)


@pytest.mark.parametrize(("crossings", "end", "expected"), [
    ((10, 20, 30), 35, 3.5),  # 3 laps of 10 s, half-way round at the end
    ((10, 20, 30), 30, 3.0),  # on the line at the end
    ((10, 20, 30), 60, 3.999),  # stopped on track: never a whole extra lap
    ((10, 20, 30, 40), 35, 3.5),  # a crossing after the end does not count
    ((), 60, 0.0),
])
def test_heat_score_is_laps_plus_the_fraction_in_progress(crossings, end, expected):
    run = heats.HeatRun(0, 0, 0, end * S, tuple(t * S for t in crossings))
    assert heats.score(run) == pytest.approx(expected)


def test_event_classification_sums_heats_and_breaks_ties_by_best_lap():
    def run(driver, laps, lap_s, best):
        times = tuple(round((i + 1) * lap_s * S) for i in range(laps))
        return heats.HeatRun(driver, 0, 0, 100 * S, times, best_ns=best * S)

    event = heats.classify(3, [[run(0, 9, 10, 9.5), run(1, 9, 10, 9.4)],
                               [run(1, 8, 12, 11), run(2, 9, 10, 9.9)],
                               [run(2, 8, 12, 11.5), run(0, 8, 12, 11.9)]])
    assert [(r.driver, r.total) for r in event] == [(1, 18.332), (0, 18.332), (2, 18.332)]
    assert event[0].heats == (9.999, 8.333, None)  # 90 s of 100: stopped, capped


def test_championship_points_bonus_and_dropped_rounds():
    season = championship.Points((10, 6, 4), fastest_lap=1, drop_worst=1)
    rounds = [(["Ann", "Bob", "Cy"], "Cy"), (["Bob", "Ann", "Cy"], "Bob"),
              (["Ann", "Cy"], "Ann")]
    rows = championship.standings(season, rounds)
    by = {r.driver: r for r in rows}
    assert by["Ann"].rounds == (10, 6, 11) and by["Ann"].points == 21  # drops the 6
    assert by["Bob"].rounds == (6, 11, None) and by["Bob"].points == 17  # drops the miss
    assert by["Cy"].rounds == (5, 4, 6) and by["Cy"].points == 11
    assert [r.driver for r in rows] == ["Ann", "Bob", "Cy"]
    assert by["Ann"].wins == 2


def test_championship_ties_go_to_count_back():
    season = championship.Points((3, 2, 1))
    rows = championship.standings(season, [(["Ann", "Bob", "Cy"], None),
                                           (["Cy", "Bob", "Ann"], None)])
    assert [(r.driver, r.points) for r in rows] == [("Ann", 4), ("Cy", 4), ("Bob", 4)]


def test_records_and_judging_a_new_lap():
    laps = [records.RecordLap("Ann", 4500 * 10**6, 1, 1), records.RecordLap("Bob", 4400 * 10**6, 1, 2),
            records.RecordLap("Ann", 4450 * 10**6, 2, 1),
            records.RecordLap("Ann", 5000 * 10**6, 2, 2, car_class="GT")]
    r = records.records(laps)
    assert r.track[""].driver == "Bob" and r.personal[("Ann", "")].lap_ns == 4450 * 10**6
    assert r.track["GT"].driver == "Ann"
    assert records.judge(records.RecordLap("Cy", 4300 * 10**6, 3, 1), r) == "track_record"
    assert records.judge(records.RecordLap("Ann", 4420 * 10**6, 3, 1), r) == "pb"
    assert records.judge(records.RecordLap("Ann", 4460 * 10**6, 3, 1), r) is None
    assert records.judge(records.RecordLap("Bob", 4400 * 10**6, 3, 1), r) is None  # tie: older


def test_race_marks_track_record_for_the_fastest_and_pb_for_the_others():
    ms = 10**6
    before = records.records([records.RecordLap("Ann", 4500 * ms, 1, 0),
                              records.RecordLap("Bob", 4800 * ms, 1, 0),
                              records.RecordLap("Cy", 4900 * ms, 1, 0),
                              records.RecordLap("Ann", 6000 * ms, 1, 0, car_class="GT")])
    bests = [(1, "Ann", 4600 * ms), (2, "Bob", 4400 * ms), (3, "Cy", 4700 * ms),
             (4, "Dee", 4300 * ms), (5, "Eve", None)]
    # Dee's 4.3 is the fastest and beats Ann's record; Dee has no best to beat: only "track".
    # Bob beats the record too but not the race's fastest: a personal best.
    assert records.marks(before, "", bests) == {4: "track", 2: "pb", 3: "pb"}
    # Per class: in GT only Ann has a best, and the GT record is hers.
    assert records.marks(before, "GT", bests) == {4: "track", 1: "pb"}
    assert records.marks(before, "GT", [(1, "Ann", 6100 * ms)]) == {}
    # A new track (no record yet) or a newcomer: nothing to announce.
    assert records.marks(records.records([]), "", bests) == {}
    assert records.marks(before, "", [(1, "Ann", 4500 * ms)]) == {}  # a tie beats nothing
