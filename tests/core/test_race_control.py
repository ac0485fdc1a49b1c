"""Race rules that use the race-control hardware: jump-start penalties, power through a
yellow's grace period, the green countdown, automatic track calls. Times in seconds."""

from __future__ import annotations

import pytest

from pitwall.core import MS, SECOND, ControlKind, Crossing, Kind, Race, RaceConfig, RaceError

S = SECOND
GREEN = 10 * S  # reds at 1..5 s, green at 10 s


def started(**cfg) -> Race:
    cfg.setdefault("min_lap_ns", 2 * S)
    cfg.setdefault("mode", "laps")
    cfg.setdefault("laps", 20)
    cfg.setdefault("entrant", "lane")
    race = Race(RaceConfig(**cfg))
    race.start(now_ns=0, lead_ns=1 * S, hold_ns=5 * S)
    return race


def feed(race: Race, passes, first_id: int = 1):
    return [race.add(Crossing(first_id + i, lane, None, round(t * S)))
            for i, (t, lane) in enumerate(passes)]


def row(race: Race, entrant: int):
    return next(s for s in race.standings() if s.entrant == entrant)


# ---------------------------------------------------------------- jump starts
def test_a_pass_between_first_red_and_green_is_a_jump_start_before_the_first_red_is_not():
    race = started()
    out = feed(race, [(0.5, 1), (1.0, 2)])
    assert [o.kind for o in out] == [Kind.PRE_START, Kind.JUMP]
    assert [s.entrant for s in race.standings()] == [2]  # lane 1 was only early
    assert row(race, 2).jump_start and row(race, 2).penalty == "warning"


def test_time_penalty_is_added_to_the_race_time_and_can_cost_the_win():
    race = started(jump_start_penalty="time", jump_start_penalty_ns=3 * S, laps=2)
    feed(race, [(9.9, 1), (14, 1), (14.5, 2), (18, 1), (19, 2)])  # lane 1 jumped
    one, two = row(race, 1), row(race, 2)
    assert one.penalty == "time" and one.penalty_ns == 3 * S and two.penalty == "none"
    # Both finish 2 laps; lane 1 crossed first (18 s) but 18 + 3 > 19: lane 2 wins.
    assert [s.entrant for s in race.standings()] == [2, 1]
    assert one.gap_ns == 18 * S + 3 * S - 19 * S


def test_stop_and_go_is_served_by_a_lap_that_long_slower_else_added_as_time():
    race = started(jump_start_penalty="stop_go", jump_start_penalty_ns=5 * S)
    feed(race, [(9.5, 1), (9.6, 2), (14, 1), (14, 2), (18, 1), (18, 2)])
    assert row(race, 1).penalty_open and row(race, 1).penalty_ns == 5 * S
    feed(race, [(27.5, 1)], first_id=10)  # 9.5 s lap = best 4 s + the 5 s stop: served
    assert not row(race, 1).penalty_open and row(race, 1).penalty_ns == 0
    assert row(race, 2).penalty_open and row(race, 2).penalty == "stop_go"


def test_restart_penalty_voids_the_start_until_the_lights_run_again():
    race = started(jump_start_penalty="restart")
    feed(race, [(3.2, 2)])
    assert race.void_by == 2 and race.phase_at(3_300 * MS) == "ready"
    assert race.lights_at(4 * S).reds == 0 and race.live_plan is None
    assert not race.power_at(GREEN + S) and race.flag_at(GREEN + S) == "none"
    (late,) = feed(race, [(12, 1)], first_id=2)  # after the void green: not a lap
    assert late.kind is Kind.PRE_START
    with pytest.raises(RaceError, match="start was void"):
        race.control(ControlKind.YELLOW, 13 * S)
    plan = race.start(now_ns=20 * S, lead_ns=1 * S, hold_ns=1 * S)
    assert race.void_by is None and race.phase_at(22 * S) == "starting"
    assert race.lights_at(plan.red_ns[2]).reds == 3
    assert [s.jump_start for s in race.standings()] == [False] * len(race.standings())


# ---------------------------------------------------------------- yellow, power, countdown
def test_power_stays_on_for_the_yellow_grace_period_then_goes_off():
    race = started(yellow_grace_ns=2 * S)
    assert not race.power_at(GREEN - 1) and race.power_at(GREEN)
    race.control(ControlKind.YELLOW, 20 * S)
    assert race.power_at(21 * S) and race.power_cut_ns(21 * S) == 22 * S
    assert not race.power_at(22 * S)
    assert race.next_change(21 * S) == 22 * S  # the lap service wakes up for the cut


def test_red_cuts_power_at_once():
    race = started(yellow_grace_ns=2 * S)
    race.control(ControlKind.RED, 20 * S)
    assert not race.power_at(20 * S) and race.power_cut_ns(20 * S) == 20 * S


def test_green_countdown_keeps_the_caution_and_power_off_until_it_ends():
    race = started(yellow_grace_ns=1 * S, green_countdown_ns=3 * S, yellow_clock="paused",
                   mode="timed", duration_ns=60 * S, laps=None)
    feed(race, [(14, 1)])
    race.control(ControlKind.YELLOW, 20 * S)
    race.control(ControlKind.GREEN, 30 * S)
    assert race.flag_at(32 * S) == "yellow" and not race.power_at(32 * S)
    assert race.resume_ns(32 * S) == 33 * S and race.next_change(32 * S) == 33 * S
    with pytest.raises(RaceError, match="countdown is already running"):
        race.control(ControlKind.GREEN, 31 * S)
    (under,) = feed(race, [(32.5, 1)], first_id=2)
    assert under.kind is Kind.YELLOW  # laps still do not count during the countdown
    assert race.flag_at(33 * S) == "green" and race.power_at(33 * S)
    assert race.resumed_ns(40 * S) == 33 * S and race.resume_ns(40 * S) is None
    assert race.ends_ns(40 * S) == GREEN + 60 * S + 13 * S  # paused 20 s .. 33 s
    (lap,) = feed(race, [(37, 1)], first_id=3)
    assert lap.kind is Kind.LAP and lap.neutralised


def test_a_new_flag_during_the_countdown_cancels_it():
    race = started(green_countdown_ns=3 * S)
    race.control(ControlKind.YELLOW, 20 * S)
    race.control(ControlKind.GREEN, 30 * S)
    race.control(ControlKind.YELLOW, 31 * S)  # another deslot: a track call is accepted
    assert race.flag_at(40 * S) == "yellow" and race.resume_ns(40 * S) is None
    assert not race.power_at(40 * S)
    with pytest.raises(RaceError, match="yellow flag is already out"):
        race.control(ControlKind.YELLOW, 41 * S)
    race.control(ControlKind.GREEN, 50 * S)
    race.control(ControlKind.RED, 51 * S)
    assert race.flag_at(60 * S) == "red" and race.resume_ns(60 * S) is None


# ---------------------------------------------------------------- automatic track call
def test_overdue_car_calls_a_yellow_once_and_the_clock_restarts_on_green():
    race = started(auto_yellow_factor=3.0)
    feed(race, [(14, 1), (14.5, 2), (18, 1), (18.5, 2)])  # lane 1: 4 s laps on average
    key, deadline = race.overdue(20 * S)
    assert key is None and deadline == 18 * S + 12 * S  # lane 1: 3 x 4 s after 18 s
    assert race.next_change(20 * S) <= 30 * S
    assert race.track_call(29 * S) is None
    assert race.track_call(30 * S) == 1
    assert race.flag_at(30 * S) == "yellow" and race.called_yellow_for(30 * S) == 1
    assert race.overdue(40 * S) == (None, None)  # under yellow: no more calls
    race.control(ControlKind.GREEN, 50 * S)
    assert race.called_yellow_for(50 * S) is None
    assert race.overdue(51 * S)[1] == 50 * S + 12 * S  # counted from the resume


def test_no_track_call_when_off_or_before_anyone_has_a_lap():
    assert started().overdue(100 * S) == (None, None)
    assert started(auto_yellow_factor=2.0).overdue(100 * S) == (None, None)
