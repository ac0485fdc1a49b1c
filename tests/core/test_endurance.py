"""Endurance in the pure core: stints, pace, tags, the kart pool, projection, pit rules.

Times in these tables are seconds after green unless they say otherwise.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pitwall.core import SECOND, Crossing, Entrant, Race, RaceConfig, RaceError, strategy
from pitwall.core import pace as pace_mod
from pitwall.core.types import ControlKind, Kind, PaceRules, PitRules, PitSensor

S = SECOND
LINE, PIT_IN, PIT_OUT = 1, 9, 10
SENSORS = (PitSensor(PIT_IN, "in"), PitSensor(PIT_OUT, "out"))
TEAMS = (Entrant(1, "Red", ("Ann", "Bob")), Entrant(2, "Blue", ("Cy", "Di")),
         Entrant(3, "Gold", ("Eve", "Fay")))


def config(**kw) -> RaceConfig:
    base = dict(mode="endurance", duration_ns=3600 * S, entrant="car", min_lap_ns=2 * S,
                entrants=TEAMS, pit_sensors=SENSORS)
    return RaceConfig(**{**base, **kw})


class Track:
    """A started race and a pass counter; ``at(s)`` is green + s seconds."""

    def __init__(self, cfg: RaceConfig | None = None) -> None:
        self.race = Race(cfg or config())
        self.green = self.race.start(0, 0, 0).green_ns
        self.ids = 0

    def at(self, seconds: float) -> int:
        return self.green + round(seconds * S)

    def cross(self, lane: int, car: int | None, seconds: float):
        self.ids += 1
        return self.race.add(Crossing(self.ids, lane, car, self.at(seconds)))

    def laps(self, car: int, times: list[float]) -> None:
        for t in times:
            self.cross(LINE, car, t)

    def cmd(self, kind: ControlKind, seconds: float, entrant=None, value="") -> None:
        self.race.control(kind, self.at(seconds), entrant, value)

    @property
    def end(self):
        return self.race.endurance

    def stints(self, now: float = 10_000):
        return [v for v in strategy.stints(self.end, self.at(now))]

    def team(self, key: int):
        return self.end.team(key)


def cumulative(start: float, laps: list[float]) -> list[float]:
    out, t = [], start
    for lap in laps:
        t += lap
        out.append(round(t, 6))
    return out


# ---------------------------------------------------------------- stints and stops
def test_stints_by_pit_sensor_with_driver_change():
    tr = Track()
    tr.laps(1, cumulative(0, [12, 10, 10.2, 10.1]))  # 12, 22, 32.2, 42.3
    assert tr.cross(PIT_IN, 1, 45).kind is Kind.PIT_IN
    tr.cmd(ControlKind.DRIVER, 46, 1, "Bob")  # named during the stop: drives next
    assert tr.cross(PIT_OUT, 1, 53).kind is Kind.PIT_OUT
    tr.laps(1, cumulative(42.3, [18, 10, 10]))  # the lap over the stop, then two clean
    s1, s2 = (v for v in tr.stints() if v.team == 1)
    assert (s1.no, s1.driver, s1.lap_in, s1.laps, s1.end_ns, s1.pit_ns) == \
        (1, "Ann", 0, 4, tr.at(45), 8 * S)
    assert (s2.no, s2.driver, s2.lap_in, s2.laps, s2.start_ns, s2.end_ns) == \
        (2, "Bob", 4, 3, tr.at(53), None)
    assert s1.best_ns == 10 * S  # the start lap (12 s) is not a clean lap
    kinds = tr.team(1).stints[1].kinds()
    assert kinds == ["out", "clean", "clean"]
    assert tr.team(1).stops[0].in_by == tr.team(1).stops[0].out_by == "sensor"


def test_pit_commands_for_tracks_without_a_sensor():
    tr = Track(config(pit_sensors=()))
    tr.laps(2, [11, 21])
    tr.cmd(ControlKind.PIT_IN, 25, 2)
    with pytest.raises(RaceError, match="in the pit already"):
        tr.cmd(ControlKind.PIT_IN, 26, 2)
    tr.cmd(ControlKind.PIT_OUT, 31, 2)
    with pytest.raises(RaceError, match="not in the pit"):
        tr.cmd(ControlKind.PIT_OUT, 32, 2)
    stop = tr.team(2).stops[0]
    assert (stop.in_by, stop.out_by, stop.pit_ns) == ("command", "command", 6 * S)
    assert len(tr.team(2).stints) == 2


def test_a_lap_completed_in_the_pit_is_the_old_stints_in_lap():
    """The timing line is in the pit lane: the lap ending there belongs to the old stint."""
    tr = Track()
    tr.laps(1, [12, 22, 32])
    tr.cross(PIT_IN, 1, 40)
    tr.cross(LINE, 1, 43)  # crossing the line inside the pit lane
    tr.cross(PIT_OUT, 1, 50)
    tr.laps(1, [58, 68])
    s1, s2 = tr.team(1).stints
    assert s1.kinds() == ["start", "clean", "clean", "in"]
    assert s2.kinds() == ["out", "clean"]
    assert tr.team(1).stops[0].out_by == "sensor"


def test_two_line_crossings_in_the_pit_mean_the_exit_was_missed():
    tr = Track()
    tr.laps(1, [12, 22])
    tr.cross(PIT_IN, 1, 30)
    tr.laps(1, [40, 50, 60])  # no pit-out seen: the car left at the first of these
    team = tr.team(1)
    assert not team.in_pit
    assert (team.stops[0].out_t, team.stops[0].out_by) == (tr.at(40), "line")
    assert team.stints[1].kinds() == ["out", "clean"]


def test_a_pit_exit_without_an_entry_is_a_stop_of_unknown_length():
    tr = Track()
    tr.laps(1, [12, 22])
    assert tr.cross(PIT_OUT, 1, 35).kind is Kind.PIT_OUT
    team = tr.team(1)
    assert len(team.stops) == 1 and team.stops[0].pit_ns is None
    assert len(team.stints) == 2


def test_pit_sensor_bounce_is_one_event():
    tr = Track()
    tr.laps(1, [12])
    assert tr.cross(PIT_IN, 1, 20).kind is Kind.PIT_IN
    assert tr.cross(PIT_IN, 1, 20.003).kind is Kind.PIT  # entry sensor chatter
    assert tr.cross(PIT_OUT, 1, 28).kind is Kind.PIT_OUT
    assert tr.cross(PIT_OUT, 1, 28.004).kind is Kind.PIT  # exit sensor chatter
    assert len(tr.team(1).stops) == 1


def test_pit_sensors_are_never_laps_in_other_modes():
    race = Race(RaceConfig(mode="laps", laps=5, entrant="lane", min_lap_ns=S,
                           pit_sensors=(PitSensor(3, "in", serves=1),)))
    green = race.start(0, 0, 0).green_ns
    out = race.add(Crossing(1, 3, None, green + 5 * S))
    assert out.kind is Kind.PIT
    assert [s.entrant for s in race.standings()] == []


def test_pit_commands_need_an_endurance_race_under_way():
    race = Race(RaceConfig(mode="timed", duration_ns=60 * S))
    race.start(0, 0, 0)
    with pytest.raises(RaceError, match="endurance"):
        race.control(ControlKind.PIT_IN, 10 * S, 1)
    ready = Race(config())
    with pytest.raises(RaceError, match="under way"):
        ready.control(ControlKind.PIT_IN, 1, 1)


# ---------------------------------------------------------------- pace
@pytest.mark.parametrize(("laps", "expected"), [
    ([10.0, 10.2, 10.1, 10.3, 10.1], 10.14),
    ([10.0, 10.2, 10.1, 10.3, 10.1, 18.0], 10.14),  # a spin lap: not in the average
    ([10.0, 10.2, 10.1, 10.3, 10.1, 4.0], 10.14),  # a cut lap: same
    ([10.0, 10.0, 10.0, 10.0, 10.0, 10.04], 10.008),  # identical laps: tiny change is kept
    ([9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0], 13.0),  # a trend, not outliers: last five
    ([10.0, 10.1], None),  # fewer than min_laps
])
def test_pace_average_excludes_outliers(laps, expected):
    got = pace_mod.average([round(x * S) for x in laps], PaceRules())
    assert (None if got is None else got / S) == (None if expected is None
                                                  else pytest.approx(expected))


def test_a_spin_lap_and_an_in_lap_do_not_move_the_stint_average():
    tr = Track()
    tr.laps(1, cumulative(0, [12, 10.0, 10.2, 10.1, 10.3, 10.1]))
    before = tr.stints()[0].avg_ns
    tr.laps(1, cumulative(52.7, [19.5]))  # a spin
    after_spin = tr.stints()[0].avg_ns
    tr.cross(PIT_IN, 1, 75)
    tr.cross(LINE, 1, 78)  # the in-lap, through the pit lane
    assert before == after_spin == tr.stints()[0].avg_ns == round(10.14 * S)


def test_laps_under_yellow_are_not_pace_laps():
    tr = Track()
    tr.laps(1, cumulative(0, [12, 10, 10, 10]))
    tr.cmd(ControlKind.YELLOW, 43)
    tr.laps(1, [44])  # within the grace period: counted, but neutralised
    tr.cmd(ControlKind.GREEN, 50)
    kinds = tr.team(1).stint.kinds()
    assert kinds == ["start", "clean", "clean", "clean", "neutral"]


@pytest.mark.parametrize(("paces", "tags"), [
    ({1: 10, 2: 11, 3: 12}, {1: "good", 2: "good", 3: "bad"}),
    ({1: 10, 2: 11, 3: 12, 4: 13}, {1: "good", 2: "good", 3: "bad", 4: "bad"}),
    ({1: 10, 2: None, 3: 12}, {1: "good", 2: "unknown", 3: "bad"}),
    ({1: 10, 2: None}, {1: "unknown", 2: "unknown"}),  # one known pace: no field yet
])
def test_pace_tags_against_the_field_median(paces, tags):
    assert pace_mod.tags(paces) == tags


@pytest.mark.parametrize(("pool", "field", "p"), [
    (["good", "bad"], ["good", "bad", "good", "bad"], 0.5),
    (["good", "good", "bad"], ["good", "good", "bad"], 2 / 3),
    (["unknown", "bad"], ["good", "good", "good", "bad", "unknown"], 0.75 / 2),
    (["unknown"], ["unknown"], 0.5),  # nothing known: even odds
    ([], ["good"], None),
])
def test_good_kart_probability(pool, field, p):
    got = pace_mod.good_probability(pool, field)
    assert got == (None if p is None else pytest.approx(p))


# ---------------------------------------------------------------- kart pool
def pool_config(**kw):
    teams = (Entrant(1, "Red", ("Ann", "Bob"), kart=101), Entrant(2, "Blue", ("Cy",), kart=102))
    return config(entrants=teams, spare_karts=(103, 104), **kw)


def test_kart_pool_history_follows_the_kart_across_teams():
    tr = Track(pool_config())
    tr.laps(101, cumulative(0, [12, 9, 9, 9, 9]))  # kart 101 is quick (team Red)
    tr.laps(102, cumulative(0, [13, 11, 11, 11, 11]))  # kart 102 is slow (team Blue)
    tr.cross(PIT_IN, 101, 50)
    tr.cmd(ControlKind.PIT_OUT, 58, 1, "103")  # Red takes kart 103
    assert tr.end.team_of_kart(103) == 1 and tr.end.team_of_kart(101) is None
    tr.cross(PIT_IN, 102, 60)
    tr.cross(PIT_OUT, 101, 67)  # Blue takes 101 out: the pass carries the kart
    assert tr.end.team_of_kart(101) == 2 and tr.end.team(2).kart == 101
    tr.laps(101, cumulative(67, [16, 9, 9]))  # out-lap, then Blue is quick in kart 101
    views, good = strategy.karts(tr.end)
    by_kart = {v.kart: v for v in views}
    assert by_kart[101].laps == 6 and by_kart[101].team == 2
    assert by_kart[101].pace == "good" and by_kart[102].pace == "bad"
    assert sorted(tr.end.pool()) == [102, 104]
    # In the pool: 102 bad, 104 unknown (prior: one good of two known) -> (0 + 0.5) / 2
    assert good == pytest.approx(0.25)


def test_a_kart_driven_by_another_team_cannot_be_taken():
    tr = Track(pool_config())
    tr.laps(101, [12])
    tr.cross(PIT_IN, 101, 20)
    with pytest.raises(RaceError, match="driven by team 2"):
        tr.cmd(ControlKind.PIT_OUT, 25, 1, "102")


def test_karts_are_given_once():
    with pytest.raises(RaceError, match="two teams"):
        config(entrants=(Entrant(1, kart=5), Entrant(2, kart=5)))


# ---------------------------------------------------------------- pit rules
def test_violations_and_the_directors_decisions():
    rules = PitRules(min_pit_ns=10 * S, min_stint_laps=3, max_stint_laps=4, required_stops=2,
                     driver_change="every_stop", penalty_ns=30 * S)
    tr = Track(config(pit=rules))
    tr.laps(1, [12, 22])
    tr.cross(PIT_IN, 1, 25)  # after 2 laps: short stint
    tr.cross(PIT_OUT, 1, 30)  # 5 s: short stop; no driver named
    tr.laps(1, cumulative(22, [12, 10, 10, 10, 10]))  # 5 laps: long stint; same driver
    vids = {v.rule: v.id for v, _ in strategy.penalties(tr.end)}
    assert set(vids) == {"short_stint", "short_stop", "no_driver_change", "long_stint"}
    assert all(status == "pending" for _, status in strategy.penalties(tr.end))
    tr.laps(2, cumulative(0, [12.5, 10, 10, 10, 10, 10, 10]))
    tr.cmd(ControlKind.FINISH, 100)
    missing = {v.entrant: v for v, _ in strategy.penalties(tr.end) if v.rule == "missing_stop"}
    assert (missing[1].count, missing[2].count) == (1, 2)
    assert 3 not in missing  # never started
    before = {s.entrant: s.position for s in tr.race.standings()}
    tr.cmd(ControlKind.PENALTY, 101, value=f"{missing[2].id}=confirm")
    tr.cmd(ControlKind.PENALTY, 102, value=f"{vids['short_stop']}=waive")
    statuses = {v.id: status for v, status in strategy.penalties(tr.end)}
    assert statuses[missing[2].id] == "confirmed" and statuses[vids["short_stop"]] == "waived"
    after = {s.entrant: s for s in tr.race.standings()}
    assert after[2].penalty_ns == 60 * S  # two missing stops at 30 s each
    # Equal laps (7 each): team 2 was ahead on time; 60 s of penalty put it behind.
    assert (before[2], after[2].position) == (1, 2)
    with pytest.raises(RaceError, match="no penalty"):
        tr.cmd(ControlKind.PENALTY, 103, value="9-short_stop-1=confirm")


def test_a_confirmed_penalty_changes_the_order_on_equal_laps():
    tr = Track(config(pit=PitRules(min_pit_ns=20 * S, penalty_ns=30 * S)))
    tr.laps(1, [12, 22])
    tr.cross(PIT_IN, 1, 25)
    tr.cross(PIT_OUT, 1, 30)
    tr.laps(1, [45])
    tr.laps(2, [13, 23, 50])  # same laps, 5 s later
    assert [s.entrant for s in tr.race.standings()][:2] == [1, 2]
    (violation, _), = strategy.penalties(tr.end)
    tr.cmd(ControlKind.PENALTY, 60, value=f"{violation.id}=confirm")
    assert [s.entrant for s in tr.race.standings()][:2] == [2, 1]


# ---------------------------------------------------------------- projection
def test_projection_serves_the_remaining_stops_at_each_teams_own_loss():
    tr = Track(config(pit=PitRules(required_stops=1)))
    # Red: 10 s laps and has stopped (the stop cost 15 s); Blue: 10.5 s laps, no stop yet.
    red = cumulative(0, [12, 10, 10, 10, 10])  # ... 52
    tr.laps(1, red)
    tr.cross(PIT_IN, 1, 55)
    tr.cross(PIT_OUT, 1, 62)
    tr.laps(1, cumulative(52, [25, 10, 10, 10]))  # out-lap 25 s over 10 s pace -> 87.. 107
    tr.laps(2, cumulative(0, [12, 10.5, 10.5, 10.5, 10.5, 10.5, 10.5, 10.5, 10.5]))  # 96
    standings = tr.race.standings()
    assert [s.entrant for s in standings][:2] == [2, 1]  # 9 laps each: Blue crossed first
    rows = {r.entrant: r for r in strategy.projection(tr.end, standings)}
    assert rows[1].stops_left == 0 and rows[2].stops_left == 1
    assert rows[1].loss_ns == 15 * S  # (25 s out-lap) - 1 lap at 10 s pace
    assert rows[2].loss_ns is None  # none measured: takes the field's (15 s)
    # Red: 9 laps at 107 s. Blue: 9 laps at 96 s + one stop of 15 s = 111 s.
    assert rows[1].time_ns == tr.at(107) and rows[2].time_ns == tr.at(111)
    assert (rows[1].position, rows[2].position) == (1, 2)
    assert rows[2].gap_ns == 4 * S


def test_projection_without_a_measured_stop_uses_the_minimum_pit_time():
    tr = Track(config(pit=PitRules(required_stops=2, min_pit_ns=20 * S)))
    tr.laps(1, cumulative(0, [12, 10, 10, 10]))  # 4 laps at 42
    tr.laps(2, cumulative(0, [12, 10, 10]))  # 3 laps at 32, lapping at 10 s
    tr.cross(PIT_IN, 2, 34)  # in the pit: one stop made, its loss not measured yet
    standings = tr.race.standings()
    rows = {r.entrant: r for r in strategy.projection(tr.end, standings)}
    assert rows[1].stops_left == 2 and rows[2].stops_left == 1
    assert rows[1].time_ns == tr.at(42 + 2 * 20)
    assert rows[2].time_ns == tr.at(32 + 10 + 20)  # one lap behind at its pace, one stop
    assert [r.entrant for r in strategy.projection(tr.end, standings)][:2] == [2, 1]
    views = strategy.teams(tr.end, standings, tr.at(40))
    assert views[2].in_pit and views[2].pit_since_ns == tr.at(34)
    assert (views[2].projected, views[1].projected) == (1, 2)


# ---------------------------------------------------------------- live == re-scored
team_events = st.lists(
    st.tuples(st.sampled_from([1, 2]),  # team
              st.sampled_from(["line", "line", "line", "in", "out", "pit_in", "pit_out",
                               "driver"]),
              st.integers(min_value=1, max_value=400)),  # tenths of a second after green
    min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(events=team_events, shuffle=st.randoms(use_true_random=False))
def test_live_and_rescored_stints_are_identical(events, shuffle):
    """Passes arrive in any order (lanes publish independently) and commands at their own
    time: the live fold and a re-score of the stored logs agree on every stint."""
    rules = PitRules(min_pit_ns=3 * S, required_stops=1, max_stint_laps=6,
                     driver_change="every_stop")
    tr = Track(config(pit=rules, entrants=TEAMS[:2]))
    ordered = sorted(events, key=lambda e: e[2])
    passes = [e for e in ordered if e[1] in ("line", "in", "out")]
    shuffle.shuffle(passes)  # arrival order differs from time order
    commands = [e for e in ordered if e[1] not in ("line", "in", "out")]
    lane = {"line": LINE, "in": PIT_IN, "out": PIT_OUT}
    while passes or commands:
        if commands and (not passes or shuffle.random() < 0.3):
            team, what, tenth = commands.pop(0)
            kind = {"pit_in": ControlKind.PIT_IN, "pit_out": ControlKind.PIT_OUT,
                    "driver": ControlKind.DRIVER}[what]
            try:
                tr.cmd(kind, tenth / 10, team, f"D{tenth}" if what == "driver" else "")
            except RaceError:
                pass  # refused live (e.g. pit_out while on track): not logged
        else:
            team, what, tenth = passes.pop(0)
            tr.cross(lane[what], team, tenth / 10)
    live = tr.race
    replayed = Race(live.config, live.plan, live.controls, live.crossings)
    now = tr.at(1000)
    assert strategy.stints(live.endurance, now) == strategy.stints(replayed.endurance, now)
    assert strategy.penalties(live.endurance) == strategy.penalties(replayed.endurance)
    assert strategy.projection(live.endurance, live.standings()) == \
        strategy.projection(replayed.endurance, replayed.standings())
