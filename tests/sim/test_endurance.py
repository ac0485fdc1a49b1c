"""The endurance simulator: its pure model, and ``pitwall sim --endurance`` as a process
feeding the real lap service over the real broker."""

from __future__ import annotations

from collections import defaultdict
from itertools import takewhile

import pytest

from pitwall import contract
from pitwall.core import SECOND
from pitwall.sim.endurance import KART_BASE, LINE_LANE, EnduranceModel

from ..laps.conftest import RunningService, command
from ..support import ServiceProcess

PIT = (9, 10)


def first(model: EnduranceModel, seconds: float, **kw) -> list:
    return list(takewhile(lambda e: e.t_ns < seconds * SECOND, model.events(0, **kw)))


def test_the_model_is_deterministic_and_in_time_order():
    a = first(EnduranceModel(4, seed=5, stint_s=30), 300)
    assert a == first(EnduranceModel(4, seed=5, stint_s=30), 300)
    assert a != first(EnduranceModel(4, seed=6, stint_s=30), 300)
    assert [e.t_ns for e in a] == sorted(e.t_ns for e in a)


def test_stops_come_near_the_stint_length_with_a_driver_change_each():
    model = EnduranceModel(3, drivers=3, lap_s=5, stint_s=60, pit_s=8, seed=2, spin=0)
    events = first(model, 600)
    for team in model.teams:
        ins = [e.t_ns for e in events if isinstance(e.command, contract.PitIn)
               and e.command.entrant == team.key]
        outs = [e.t_ns for e in events if isinstance(e.command, contract.PitOut)
                and e.command.entrant == team.key]
        changes = [e.command.driver for e in events
                   if isinstance(e.command, contract.DriverChange)
                   and e.command.entrant == team.key]
        assert len(ins) >= 7 and len(outs) >= len(ins) - 1
        stints = [b - a for a, b in zip([0] + outs, ins, strict=False)]
        assert all(50 * SECOND < s < 75 * SECOND for s in stints), stints
        pits = [b - a for a, b in zip(ins, outs, strict=False)]
        assert all(7 * SECOND < p < 9 * SECOND for p in pits)
        names = [d for d, _ in team.drivers]
        assert changes[:4] == [names[1], names[2], names[0], names[1]]  # in order, round


def test_drivers_and_cars_differ_in_pace():
    model = EnduranceModel(6, drivers=2, seed=4, noise=0, spin=0)
    assert len({t.car_factor for t in model.teams}) == 6
    assert all(t.drivers[0][1] != t.drivers[1][1] for t in model.teams)
    laps = defaultdict(list)
    last = {}
    for e in first(model, 200):
        if e.command is None:
            if e.car in last:
                laps[e.car].append(e.t_ns - last[e.car])
            last[e.car] = e.t_ns
    assert len({min(v) for v in laps.values()}) == 6


def test_pit_sensors_give_passes_and_a_kart_pool_never_shares_a_kart():
    model = EnduranceModel(4, karts=7, lap_s=5, stint_s=30, pit_s=6, seed=9, spin=0)
    assert [e.kart for e in model.entrants()] == [101, 102, 103, 104]
    assert model.spare_karts() == [105, 106, 107]
    events = first(model, 900, pit_lanes=PIT)
    assert any(e.lane == PIT[0] and e.command is None for e in events)  # pit entry: a pass
    held = {t.key: t.kart for t in model.teams}
    for e in events:
        if isinstance(e.command, contract.PitOut):
            assert e.command.kart not in held.values()  # from the pool, never another's
            held[e.command.entrant] = e.command.kart
        elif e.command is None and e.lane == LINE_LANE:
            assert e.car in held.values() and e.car > KART_BASE
    assert len(set(held.values())) == 4


@pytest.mark.parametrize("bad", [dict(teams=0), dict(karts=3, teams=4), dict(lap_s=0.1),
                                 dict(stint_s=1, lap_s=5)])
def test_bad_model_settings_are_refused(bad):
    teams = bad.pop("teams", 4)
    with pytest.raises(ValueError):
        EnduranceModel(teams, **bad)


def test_sim_endurance_process_drives_stops_through_the_lap_service(settings, probe,
                                                                    tmp_path):
    model = EnduranceModel(3, drivers=2)
    running = RunningService(settings)
    sim = ServiceProcess(tmp_path / "pitwall.toml", "sim", "--endurance", "--cars", "3",
                         "--drivers", "2", "--lap-s", "0.4", "--stint-s", "1.6",
                         "--pit-s", "0.5", "--deslot", "0", "--seed", "3").start()
    try:
        reply = command(probe, contract.Setup(
            mode="endurance", duration_s=600, entrant="car", min_lap_ms=100,
            entrants=model.entrants()))
        assert reply.ok, reply.error
        assert command(probe, contract.Start()).ok
        state = probe.wait_for(
            lambda: (s := probe.last_state()) and s.standings and
            all(t.pit and t.pit.stops >= 2 and t.stint.no >= 3 for t in s.standings) and s,
            timeout=30, what="two stops for every team")
        for team, spec in zip(sorted(state.standings, key=lambda t: t.entrant),
                              model.entrants(), strict=True):
            assert team.driver == spec.driver
            assert team.stint.driver in spec.drivers
        replies = probe.decoded(probe.topics.race_reply, contract.Reply)
        refused = [r for r in replies if not r.ok]
        assert not refused, refused
        assert {r.cmd for r in replies if r.id and r.id.startswith("sim-")} == \
            {"pit_in", "pit_out", "driver"}
    finally:
        sim.stop()
        running.stop()
    assert "Traceback" not in sim.output()
