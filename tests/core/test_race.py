"""The race core, as tables: passes in, standings out. Times in seconds unless noted."""

from __future__ import annotations

import random

import pytest

from pitwall.core import (
    MS,
    SECOND,
    ControlKind,
    Crossing,
    Entrant,
    Kind,
    Race,
    RaceConfig,
    RaceError,
    score,
)

S = SECOND
GREEN = 10 * S  # start(now=0, lead=1 s, hold=5 s): reds at 1..5 s, green at 10 s


def started(**cfg) -> Race:
    cfg.setdefault("min_lap_ns", 2 * S)
    race = Race(RaceConfig(**cfg))
    plan = race.start(now_ns=0, lead_ns=1 * S, hold_ns=5 * S)
    assert plan.red_ns == (1 * S, 2 * S, 3 * S, 4 * S, 5 * S) and plan.green_ns == GREEN
    return race


def feed(race: Race, passes: list[tuple[float, int, int | None]], first_id: int = 1):
    """passes: (t in seconds after 0, lane, car). Returns the outcomes in order."""
    return [race.add(Crossing(first_id + i, lane, car, round(t * S)))
            for i, (t, lane, car) in enumerate(passes)]


def table(race: Race):
    return [(s.position, s.entrant, s.laps, s.finished) for s in race.standings()]


# ---------------------------------------------------------------- laps and minimum lap
def test_first_crossing_counts_times_lap_one_from_green():
    race = started(mode="laps", laps=5, entrant="lane")
    out = feed(race, [(14.5, 1, None), (18.0, 1, None)])
    assert [(o.kind, o.lap, o.lap_ns) for o in out] == [
        (Kind.LAP, 1, 4_500_000_000), (Kind.LAP, 2, 3_500_000_000)]


def test_first_crossing_starts_only_starts_timing():
    race = started(mode="laps", laps=5, entrant="lane", first_crossing="starts")
    out = feed(race, [(10.3, 1, None), (14.0, 1, None)])
    assert [o.kind for o in out] == [Kind.START, Kind.LAP]
    assert out[1].lap_ns == 3_700_000_000 and out[1].lap == 1


def test_bounce_inside_min_lap_is_suspect_and_does_not_move_the_lap_origin():
    race = started(mode="laps", laps=5, entrant="lane")
    out = feed(race, [(14.0, 1, None), (14.002, 1, None), (18.0, 1, None)])
    assert [o.kind for o in out] == [Kind.LAP, Kind.SUSPECT, Kind.LAP]
    assert out[1].lap_ns == 2 * MS and out[1].lap == 1  # kept in the log with its gap
    assert out[2].lap_ns == 4 * S  # measured from the first edge, not the bounce
    assert race.standings()[0].laps == 2


def test_crossing_faster_than_min_lap_is_suspect_then_reinstated_by_director():
    race = started(mode="laps", laps=5, entrant="lane", min_lap_ns=3 * S)
    feed(race, [(14.0, 1, None), (16.5, 1, None), (19.0, 1, None)])
    assert [o.kind for o in race.outcomes.values()] == [Kind.LAP, Kind.SUSPECT, Kind.LAP]
    race.override(2, "count")  # the director knows it was a real (short-cut) lap
    assert [o.kind for o in race.outcomes.values()] == [Kind.LAP, Kind.LAP, Kind.SUSPECT]
    race.override(2, "ignore")
    assert [o.kind for o in race.outcomes.values()] == [Kind.LAP, Kind.DELETED, Kind.LAP]
    assert race.outcomes[3].lap_ns == 5 * S


def test_four_lanes_within_one_millisecond_all_count_with_exact_times():
    race = started(mode="laps", laps=10, entrant="lane")
    base = 14 * S
    stamps = [base, base + 250_000, base + 500_123, base + 999_999]  # within 1 ms
    for i, t in enumerate(stamps, start=1):
        race.add(Crossing(i, lane=i, car=None, t_ns=t))
    laps = {o.entrant: o.lap_ns for o in race.outcomes.values() if o.kind is Kind.LAP}
    assert laps == {i: t - GREEN for i, t in enumerate(stamps, start=1)}
    assert [s.entrant for s in race.standings()] == [1, 2, 3, 4]


# ---------------------------------------------------------------- start sequence
@pytest.mark.parametrize("t, kind", [(0.5, Kind.PRE_START), (1.0, Kind.JUMP),
                                     (9.999, Kind.JUMP), (12.1, Kind.LAP)])
def test_pass_between_first_red_and_green_is_a_jump_start(t, kind):
    race = started(mode="laps", laps=5, entrant="lane")
    (out,) = feed(race, [(t, 1, None)])
    assert out.kind is kind
    assert any(s.jump_start for s in race.standings()) is (kind is Kind.JUMP)


def test_lights_follow_the_plan():
    race = started(mode="laps", laps=5, entrant="lane")
    assert [race.lights_at(t * S).reds for t in (0, 1, 2.5, 5, 9.9)] == [0, 1, 2, 5, 5]
    assert race.lights_at(GREEN).green and race.lights_at(GREEN).reds == 0
    assert race.phase_at(9 * S) == "starting" and race.phase_at(GREEN) == "running"


# ---------------------------------------------------------------- finishing
def test_leader_finishes_then_everyone_on_their_next_crossing():
    race = started(mode="laps", laps=2, entrant="car", entrants=(
        Entrant(1, "Ann"), Entrant(2, "Bob"), Entrant(3, "Cy"), Entrant(4, "Di")))
    feed(race, [
        (14.0, 1, 1), (14.5, 2, 2), (15.0, 3, 3),
        (18.0, 1, 1),  # car 1 completes 2 laps: chequered
        (18.7, 2, 2),  # car 2 finishes on its next crossing (2 laps)
        (19.5, 3, 3),  # car 3 too
        (22.0, 1, 1),  # car 1 after its finish: not counted
    ])
    assert table(race) == [(1, 1, 2, True), (2, 2, 2, True), (3, 3, 2, True),
                           (4, 4, 0, False)]
    assert race.outcomes[7].kind is Kind.AFTER_FINISH
    assert race.phase_at(23 * S) == "finished"  # all who started took the flag


def test_director_finish_classifies_everyone_who_started_as_finished():
    race = started(mode="laps", laps=20, entrant="car", entrants=(
        Entrant(1, "Ann"), Entrant(2, "Bob"), Entrant(3, "Cy")))
    feed(race, [(14.0, 1, 1), (14.5, 2, 2), (18.0, 1, 1)])
    assert table(race) == [(1, 1, 2, False), (2, 2, 1, False), (3, 3, 0, False)]
    race.control(ControlKind.FINISH, 19 * S)
    assert race.phase_at(19 * S) == "finished"
    # Where they stand when the director ends it; a car that never crossed did not start.
    assert table(race) == [(1, 1, 2, True), (2, 2, 1, True), (3, 3, 0, False)]


def test_aborted_race_classifies_nobody_as_finished():
    race = started(mode="laps", laps=20, entrant="car", entrants=(Entrant(1, "Ann"),))
    feed(race, [(14.0, 1, 1)])
    race.control(ControlKind.ABORT, 15 * S)
    assert table(race) == [(1, 1, 1, False)]


def test_lapped_car_finishes_with_fewer_laps_on_its_next_crossing():
    race = started(mode="laps", laps=3, entrant="lane")
    feed(race, [(13, 1, None), (16, 1, None), (17, 2, None), (19, 1, None), (24, 2, None)])
    assert table(race) == [(1, 1, 3, True), (2, 2, 2, True)]
    assert race.standings()[1].gap_laps == 1


def test_finish_decided_by_edge_time_not_arrival_order():
    """Lane 2 crossed before the leader's finishing edge but its pass arrives later."""
    race = started(mode="laps", laps=1, entrant="lane")
    feed(race, [(14.0, 1, None)])  # leader finishes at 14.0
    late = race.add(Crossing(2, lane=2, car=None, t_ns=round(13.9 * S)))  # earlier edge
    assert late.kind is Kind.LAP and late.final  # 1 lap done: it is also classified
    assert [(s.entrant, s.laps) for s in race.standings()] == [(2, 1), (1, 1)]
    assert race.standings()[0].finished and race.standings()[1].finished


def test_timed_race_everyone_finishes_on_first_crossing_after_time():
    race = started(mode="timed", duration_ns=10 * S, entrant="lane")
    feed(race, [(14, 1, None), (18, 1, None), (19.9, 2, None), (21, 1, None),
                (22, 2, None), (25, 1, None)])
    # time is up at 20 s: lane 1's crossing at 21 and lane 2's at 22 are their last
    assert table(race) == [(1, 1, 3, True), (2, 2, 2, True)]
    assert race.outcomes[6].kind is Kind.AFTER_FINISH


def test_classification_equal_laps_by_earlier_last_crossing_non_starters_last():
    race = started(mode="laps", laps=10, entrant="car",
                   entrants=(Entrant(7, "Non"), Entrant(1), Entrant(2)))
    feed(race, [(14, 1, 2), (14.2, 1, 1), (18.1, 1, 1), (18.3, 1, 2)])
    assert [s.entrant for s in race.standings()] == [1, 2, 7]
    second = race.standings()[1]
    assert second.gap_ns == 200 * MS and second.gap_laps == 0


def test_qualifying_ranks_by_best_lap():
    race = started(mode="qualifying", duration_ns=60 * S, entrant="lane")
    feed(race, [(14, 1, None), (17.5, 1, None), (13, 2, None), (16.2, 2, None),
                (20.5, 2, None)])
    assert [(s.entrant, s.best_ns) for s in race.standings()] == [(2, 3_000_000_000),
                                                                  (1, 3_500_000_000)]
    assert race.standings()[1].gap_ns == 500 * MS


# ---------------------------------------------------------------- flags
def test_yellow_grace_then_laps_stop_counting_and_resume_on_green():
    race = started(mode="laps", laps=20, entrant="lane", yellow_grace_ns=1 * S)
    feed(race, [(14, 1, None)])
    race.control(ControlKind.YELLOW, 16 * S)
    feed(race, [(16.8, 1, None), (19.5, 1, None)], first_id=2)  # in grace, then after
    race.control(ControlKind.GREEN, 30 * S)
    feed(race, [(34, 1, None), (38, 1, None)], first_id=4)
    kinds = [o.kind for o in race.outcomes.values()]
    assert kinds == [Kind.LAP, Kind.LAP, Kind.YELLOW, Kind.LAP, Kind.LAP]
    assert race.outcomes[4].neutralised and not race.outcomes[5].neutralised
    assert race.standings()[0].best_ns == 4 * S  # neutralised laps are not best laps


def test_red_flag_stops_counting_at_once():
    race = started(mode="laps", laps=20, entrant="lane")
    feed(race, [(14, 1, None)])
    race.control(ControlKind.RED, 15 * S)
    (out,) = feed(race, [(15.1, 1, None)], first_id=2)
    assert out.kind is Kind.STOPPED and race.phase_at(16 * S) == "stopped"
    assert race.flag_at(16 * S) == "red" and not race.power_at(16 * S)


def test_paused_clock_extends_a_timed_race_by_the_caution():
    race = started(mode="timed", duration_ns=10 * S, entrant="lane", yellow_clock="paused")
    race.control(ControlKind.YELLOW, 12 * S)
    race.control(ControlKind.GREEN, 17 * S)
    assert race.ends_ns(18 * S) == 25 * S


@pytest.mark.parametrize("kind, at, message", [
    (ControlKind.YELLOW, 5 * S, "needs a started race"),
    (ControlKind.GREEN, 12 * S, "none is out"),
])
def test_commands_that_do_not_fit_the_phase_are_refused(kind, at, message):
    race = started(mode="laps", laps=5, entrant="lane")
    with pytest.raises(RaceError, match=message):
        race.control(kind, at)


def test_start_twice_is_refused_and_bad_setups_are_explained():
    race = started(mode="laps", laps=5, entrant="lane")
    with pytest.raises(RaceError, match="already been started"):
        race.start(0, 0, 0)
    with pytest.raises(RaceError, match="number of laps"):
        RaceConfig(mode="laps")
    with pytest.raises(RaceError, match="duration"):
        RaceConfig(mode="timed")


def test_entrant_list_rejects_strangers():
    race = started(mode="laps", laps=5, entrant="car", entrants=(Entrant(1),))
    out = feed(race, [(14, 1, 9), (14.1, 1, None), (14.2, 1, 1)])
    assert [o.kind for o in out] == [Kind.UNKNOWN, Kind.UNKNOWN, Kind.LAP]


# ---------------------------------------------------------------- re-scoring
def _random_race(seed: int):
    rng = random.Random(seed)
    cfg = RaceConfig(mode=rng.choice(["laps", "timed", "practice"]), laps=8,
                     duration_ns=40 * S, entrant="lane", min_lap_ns=2 * S,
                     first_crossing=rng.choice(["counts", "starts"]))
    passes, t_lane = [], {lane: GREEN + rng.randint(0, S) for lane in (1, 2, 3, 4)}
    pid = 0
    for _ in range(60):
        lane = rng.choice((1, 2, 3, 4))
        t_lane[lane] += rng.randint(S // 10, 5 * S)  # some faster than min lap
        pid += 1
        passes.append(Crossing(pid, lane, None, t_lane[lane]))
    return cfg, passes, rng


@pytest.mark.parametrize("seed", range(25))
def test_live_result_equals_rescore_from_pass_log(seed):
    cfg, passes, rng = _random_race(seed)
    live = Race(cfg)
    live.start(0, 1 * S, 5 * S)
    arrival = passes[:]
    rng.shuffle(arrival)  # lanes publish independently: arrival order is not time order
    arrival.sort(key=lambda c: c.t_ns + rng.randint(0, 300 * MS))
    controls_at = sorted(rng.sample(range(12, 50), 2))
    for c in arrival:
        for at in list(controls_at):
            if c.t_ns > at * S:
                kind = ControlKind.YELLOW if live.flag_at(at * S) == "green" else None
                if kind:
                    live.control(kind, at * S)
                controls_at.remove(at)
        live.add(c)
    rescored = score(cfg, live.plan, live.controls, passes)
    assert live.outcomes == rescored.outcomes
    assert live.standings() == Race(cfg, live.plan, live.controls, passes).standings()
