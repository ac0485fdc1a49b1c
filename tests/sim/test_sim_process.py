"""``pitwall sim`` as a real process against the real broker."""

from __future__ import annotations

import time
from itertools import islice

import msgspec

from pitwall import contract
from pitwall.sim import passlog
from pitwall.sim.model import TrackModel

from ..support import ServiceProcess
from .helpers import arrivals, by_car, lane_passes

LAP = ["--lap-s", "0.3", "--deslot", "0"]  # short laps; no 3-8 s deslot in a test


def sim_process(tmp_path, *args):
    return ServiceProcess(tmp_path / "pitwall.toml", "sim", *args).start()


def laps(times):
    return [b - a for a, b in zip(times, times[1:])]


def test_free_sim_publishes_exactly_what_it_records(settings, probe, tmp_path):
    record = tmp_path / "rec.csv"
    sim = sim_process(tmp_path, "--cars", "3", "--free", *LAP, "--seed", "11",
                      "--passes", "15", "--record", str(record))
    try:
        assert sim.proc.wait(15) == 0, sim.output()
    finally:
        sim.stop()
    passes = probe.wait_for(lambda: (p := lane_passes(probe)) and len(p) >= 15 and p,
                            what="15 passes")
    assert len(passes) == 15
    assert {p.source for p in passes} == {"sim"}
    assert {(p.lane, p.car) for p in passes} == {(1, 1), (2, 2), (3, 3)}
    # the recording is the published passes, to the nanosecond
    assert [(int(r.t_ms * 1_000_000), r.lane, r.car) for r in passlog.read(record)] == \
        [(p.t_ns, p.lane, p.car) for p in passes]
    # t_ns is the modelled crossing: lap times are the model's for that seed
    model = TrackModel(3, lap_s=0.3, deslot=0, seed=11)
    expected = by_car(islice(model.passes(0), 15))
    for car, times in by_car(passes).items():
        assert laps(times) == laps(expected[car])
    # ...published when the clock reaches it: close to, never before, its t_ns
    arrived = arrivals(probe)
    for p in passes:
        late = arrived[contract.encode(p)] - p.t_ns
        assert 0 <= late < 250_000_000, f"pass arrived {late / 1e6:.1f} ms after its t_ns"


def test_sim_waits_for_green_and_stops_with_the_race(settings, probe, tmp_path):
    topics = probe.topics
    grid = contract.RaceState(race_id=5, phase="starting", mode="laps", laps=50,
                              entrant="car", now_ns=time.monotonic_ns())
    probe.publish(topics.race_state, grid, retain=True)  # retained: found on connect
    sim = sim_process(tmp_path, "--cars", "2", *LAP, "--seed", "7")
    try:
        probe.wait_for(lambda: contract.ONLINE in probe.on(topics.status("sim")),
                       what="sim online")
        time.sleep(0.7)  # longer than the slowest reaction plus a lap
        assert lane_passes(probe) == [], "cars left the grid before green"

        green = time.monotonic_ns()
        running = msgspec.structs.replace(grid, phase="running", flag="green",
                                          start_ns=green, now_ns=green)
        probe.publish(topics.race_state, running, retain=True)
        passes = probe.wait_for(lambda: (p := lane_passes(probe)) and len(p) >= 4 and p,
                                what="4 passes after green")
        # exactly the model's race 5 from the green time: reaction + one lap, then laps
        model = TrackModel(2, lap_s=0.3, deslot=0, seed=7)
        assert [(p.t_ns, p.lane, p.car) for p in passes[:4]] == \
            [tuple(c) for c in islice(model.passes(green, race=5), 4)]
        assert all(p.t_ns > green + 250_000_000 for p in passes)

        finished = msgspec.structs.replace(running, phase="finished", flag="chequered",
                                           now_ns=time.monotonic_ns())
        probe.publish(topics.race_state, finished, retain=True)
        stopped_at = time.monotonic_ns()
        time.sleep(0.8)  # more than two laps of the slowest car
        assert all(p.t_ns < stopped_at for p in lane_passes(probe)), "cars kept lapping"
        assert sim.alive()
    finally:
        rc = sim.stop()
    assert rc == 0, sim.output()
    probe.wait_for(lambda: probe.on(topics.status("sim"))[-1:] == [contract.OFFLINE],
                   what="sim offline after SIGINT")


def test_cars_stand_still_under_yellow(settings, probe, tmp_path):
    topics = probe.topics
    sim = sim_process(tmp_path, "--cars", "1", *LAP, "--seed", "3", "--no-car-ids")
    try:
        probe.wait_for(lambda: contract.ONLINE in probe.on(topics.status("sim")),
                       what="sim online")
        green = time.monotonic_ns()
        running = contract.RaceState(race_id=2, phase="running", flag="green",
                                     start_ns=green, now_ns=green)
        probe.publish(topics.race_state, running, retain=True)
        probe.wait_for(lambda: len(lane_passes(probe)) >= 2, what="2 passes")
        probe.publish(topics.race_state, msgspec.structs.replace(running, flag="yellow"),
                      retain=True)
        yellow = time.monotonic_ns()
        time.sleep(0.8)
        under_yellow = [p for p in lane_passes(probe) if p.t_ns > yellow + 20_000_000]
        assert under_yellow == []
        probe.publish(topics.race_state, msgspec.structs.replace(running, flag="green"),
                      retain=True)
        resumed = time.monotonic_ns()
        passes = probe.wait_for(lambda: (p := lane_passes(probe)) and len(p) >= 5 and p,
                                what="passes after the yellow")
    finally:
        sim.stop()
    assert {(p.lane, p.car) for p in passes} == {(1, None)}
    model = [c.t_ns for c in islice(TrackModel(1, lap_s=0.3, deslot=0, seed=3)
                                    .passes(green, race=2), 5)]
    # the cars lost the time they stood: one lap is longer by the yellow, the rest match
    shifted = [p.t_ns - m for p, m in zip(passes, model, strict=False)]
    stood = shifted[-1]
    assert (resumed - yellow) - 100_000_000 < stood < (resumed - yellow) + 100_000_000
    assert sorted(set(shifted)) == [0, stood]


def test_joining_a_race_under_way_publishes_no_past_crossings(settings, probe, tmp_path):
    green = time.monotonic_ns() - 20_000_000_000  # the race started 20 s ago
    probe.publish(probe.topics.race_state,
                  contract.RaceState(race_id=9, phase="running", start_ns=green, now_ns=green),
                  retain=True)
    launched = time.monotonic_ns()
    sim = sim_process(tmp_path, "--cars", "2", *LAP, "--seed", "1", "--passes", "3")
    try:
        assert sim.proc.wait(15) == 0, sim.output()
    finally:
        sim.stop()
    passes = probe.wait_for(lambda: (p := lane_passes(probe)) and len(p) >= 3 and p,
                            what="3 passes")
    assert all(p.t_ns > launched for p in passes)
    # still the model's race 9, from its real green time: no restart from "now"
    model = {c.t_ns for c in islice(TrackModel(2, lap_s=0.3, deslot=0, seed=1)
                                    .passes(green, race=9), 400)}
    assert {p.t_ns for p in passes} <= model
    assert "skipped" in sim.output()
