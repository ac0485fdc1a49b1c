"""Heat rotation for analog, lane-keyed tracks: every driver races every lane once.

The plan is the usual club rotation: after each heat every driver moves up one lane
(the driver on the last lane sits out or comes back on lane 1), so with N drivers on L
lanes there are max(N, L) heats; in each heat at most L drivers race and, with more
drivers than lanes, N - L sit out. Driver ``d`` (0-based) races lane ``l`` in heat
``(d + l) mod H``: each driver meets each lane exactly once, and no heat has a driver
twice because a heat's drivers ``h - l`` are distinct for the L lanes.

Scoring (the usual rule for timed heats): a driver's score in a heat is the laps
completed when the heat's time runs out plus the **fraction of the lap in progress**:
the time since the driver's last crossing divided by the driver's average lap in that
heat, capped just below one lap (a car that stopped on track does not gain a lap). The
event classifies by the total over all heats; ties go to the better best lap.

>>> [[lane for lane in heat] for heat in plan(3, 2)]
[[0, 2], [1, 0], [2, 1]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pitwall.core.types import RaceError

MAX_LANES = 8
MAX_DRIVERS = 64
FRACTION_CAP = 0.999  # the lap in progress never counts as a whole lap


def plan(drivers: int, lanes: int) -> list[list[int | None]]:
    """The heats: ``heats[h][l]`` is the driver (0-based) on lane ``l`` in heat ``h``, or
    None for an empty lane (fewer drivers than lanes)."""
    if not 2 <= lanes <= MAX_LANES:
        raise RaceError(f"heat rotation needs 2 to {MAX_LANES} lanes")
    if not 2 <= drivers <= MAX_DRIVERS:
        raise RaceError(f"heat rotation needs 2 to {MAX_DRIVERS} drivers")
    heats = max(drivers, lanes)
    return [[d if (d := (h - lane) % heats) < drivers else None for lane in range(lanes)]
            for h in range(heats)]


def sitting_out(heat: Sequence[int | None], drivers: int) -> list[int]:
    on = {d for d in heat if d is not None}
    return [d for d in range(drivers) if d not in on]


@dataclass(frozen=True, slots=True)
class HeatRun:
    """One driver's run in one heat: counted crossing times up to the end of the heat."""

    driver: int
    lane: int
    start_ns: int  # green
    end_ns: int  # the heat's time ran out
    crossings: tuple[int, ...]  # t_ns of the counted crossings, in order
    best_ns: int | None = None


def score(run: HeatRun) -> float:
    """Laps completed before the end, plus the fraction of the lap in progress."""
    done = [t for t in run.crossings if t <= run.end_ns]
    if not done:
        return 0.0
    laps = len(done)
    average = (done[-1] - run.start_ns) / laps
    fraction = min(FRACTION_CAP, (run.end_ns - done[-1]) / average) if average > 0 else 0.0
    return laps + fraction


@dataclass(frozen=True, slots=True)
class EventRow:
    position: int
    driver: int
    total: float  # laps plus fractions, over all heats
    heats: tuple[float | None, ...]  # per heat (None: sat out)
    best_ns: int | None


def classify(drivers: int, heats: Sequence[Sequence[HeatRun]]) -> list[EventRow]:
    """The event: totals over the heats run so far, best total first, then best lap."""
    per = [[None] * len(heats) for _ in range(drivers)]
    best: list[int | None] = [None] * drivers
    for h, runs in enumerate(heats):
        for run in runs:
            per[run.driver][h] = score(run)
            if run.best_ns is not None and (best[run.driver] is None
                                            or run.best_ns < best[run.driver]):
                best[run.driver] = run.best_ns
    totals = [round(sum(x for x in row if x is not None), 3) for row in per]
    order = sorted(range(drivers), key=lambda d: (-totals[d], best[d] is None,
                                                  best[d] or 0, d))
    return [EventRow(position=i, driver=d, total=totals[d], heats=tuple(
        None if x is None else round(x, 3) for x in per[d]), best_ns=best[d])
        for i, d in enumerate(order, start=1)]
