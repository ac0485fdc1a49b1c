"""A heat-rotation event through the real lap service and broker: 6 drivers on 2 lanes,
heats set up and started one after another, each finished at its time, and classified by
laps plus the fraction of the lap in progress.

The lap service runs on a clock 20 times faster than real time (injected, as the service
allows), so six 10-second heats take seconds; passes are stamped on that same clock.
"""

from __future__ import annotations

import time

from pitwall import contract
from pitwall.api.events import view
from pitwall.core import SECOND
from pitwall.laps import store
from pitwall.laps.service import LapService

from ..conftest import make_settings
from ..support import MqttProbe
from .conftest import RunningService, command, send_pass

SPEED = 20
DRIVERS = ["Ann", "Bob", "Cy", "Dee", "Eve", "Fay"]
HEAT_S = 10
REACTION = 300_000_000  # the first crossing is a lap from the grid plus this after green


def lap_ns(driver: str, lane: int) -> int:
    """Ann is quickest, Fay slowest; lane 2 is a little longer."""
    return round((2.0 + 0.1 * DRIVERS.index(driver) + 0.05 * (lane - 1)) * SECOND)


def expected_score(driver: str, lane: int) -> float:
    times = [REACTION + k * lap_ns(driver, lane) for k in range(1, 20)]
    done = [t for t in times if t < HEAT_S * SECOND]
    average = done[-1] / len(done)
    return len(done) + min(0.999, (HEAT_S * SECOND - done[-1]) / average)


def test_six_drivers_on_two_lanes_race_every_lane(tmp_path, broker, topic_root):
    base = time.monotonic_ns()

    def fast_clock() -> int:
        return base + (time.monotonic_ns() - base) * SPEED

    settings = make_settings(tmp_path, broker.port, topic_root, track_lanes=2,
                             race={"start_lead_ms": 0, "hold_min_ms": 0, "hold_max_ms": 0,
                                   "green_countdown_ms": 0})
    probe = MqttProbe(settings)
    running = RunningService(settings, lambda s: LapService(s, clock=fast_clock))
    try:
        reply = command(probe, contract.Heats(name="Club night", drivers=DRIVERS,
                                              duration_s=HEAT_S, pause_s=2))
        assert reply.ok, reply.error
        first = probe.wait_for(lambda: (s := probe.last_state()) and s.event and s,
                               what="heat 1 set up")
        assert (first.event.heat, first.event.heats, first.phase) == (1, 6, "ready")
        assert [(g.lane, g.driver) for g in first.event.grid] == [(1, "Ann"), (2, "Fay")]
        assert [(g.lane, g.driver) for g in first.event.next_grid] == [(1, "Bob"), (2, "Ann")]
        assert first.event.sitting_out == ["Bob", "Cy", "Dee", "Eve"]
        assert command(probe, contract.Start()).ok  # the director starts heat 1 only

        grids = []
        for heat in range(1, 7):
            state = probe.wait_for(
                lambda h=heat: (s := probe.last_state()) and s.event and s.event.heat == h
                and s.start_ns and s, timeout=20, what=f"heat {heat} started")
            grids.append([(g.lane, g.driver) for g in state.event.grid])
            # Both lanes' crossings in time order (the last come after the time is up).
            crossings = sorted((state.start_ns + REACTION + k * lap_ns(g.driver, g.lane),
                                g.lane) for g in state.event.grid for k in range(1, 7))
            for t, lane in crossings:
                send_pass(probe, lane, t)
        probe.wait_for(lambda: (s := probe.last_state()).event.heat == 6
                       and s.phase == "finished", timeout=20, what="the last heat finished")
        between = [s for s in (contract.decode(m, contract.RaceState)
                               for m in probe.on(probe.topics.race_state))
                   if s.event and s.event.heat == 1 and s.phase == "finished"]
        assert between and between[-1].event.next_start_ns is not None  # shown in the pause
    finally:
        running.stop()
        probe.close()

    # Every driver raced every lane once.
    for d in DRIVERS:
        assert sorted(lane for grid in grids for lane, who in grid if who == d) == [1, 2]

    db = store.open_database(settings.data_dir)
    with db.connection_context():
        event = view(store.HeatEventRow.get())
    assert event.finished and [h.phase for h in event.heats] == ["finished"] * 6
    want = {d: round(expected_score(d, 1) + expected_score(d, 2), 3) for d in DRIVERS}
    assert {r.driver: r.total for r in event.standings} == want
    assert [r.driver for r in event.standings] == DRIVERS  # quickest first
    assert 9.5 < event.standings[0].total < 10  # Ann: 4 laps and most of a fifth, twice
    assert event.standings[0].heats[0] is not None and event.standings[0].heats[2] is None
    db.close()
