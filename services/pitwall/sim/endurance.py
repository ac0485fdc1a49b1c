"""A pure model of an endurance race: teams of drivers sharing a car (or rental karts from
a pool), stints, pit stops and driver changes. No I/O, no clock reads, seeded randomness.

Given the green moment it yields, in time order and endlessly, every timing-line pass,
every pit event and every driver change as ``SimEvent(t_ns, lane, car, command)``: a pass
when ``command`` is None, else a race command to publish at ``t_ns``.

* Each team's car (or kart) has its own pace, each driver a skill factor; laps vary by
  ``noise``, and ``spin`` is the chance per lap of losing 3-8 s.
* A team stops once its stint passes about ``stint_s`` (±10 %): it enters the pit lane
  70 % of the way round its lap, spends about ``pit_s`` (±10 %) in it and rejoins before
  the line, so the lap over the stop is its lap plus the pit time. During the stop the
  next driver in the team's order takes over (a ``driver`` command 1 s after entry).
* Pit entry and exit are passes on ``pit_lanes`` (sensors) when given, else ``pit_in`` /
  ``pit_out`` commands.
* Kart pool (``karts`` > 0): team ``k`` (keys 1..N) starts in kart 100+k, the karts above
  100+N wait in the pits, passes carry kart numbers, and at every stop the team hands in
  its kart and takes the one that has waited longest (a ``pit_out`` command naming it;
  with sensors the pit entry is still a pass).

>>> model = EnduranceModel(2, lap_s=1.0, stint_s=3.0, pit_s=1.0, seed=3, spin=0)
>>> sorted({e.command.__struct_config__.tag for e in islice(model.events(0), 40)
...         if e.command is not None})
['driver', 'pit_in', 'pit_out']
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice  # noqa: F401  (the doctest)
from typing import NamedTuple

from pitwall import contract

SECOND = 1_000_000_000
KART_BASE = 100  # kart numbers start above this (team keys are 1..N)
LINE_LANE = 1  # a digital track: every team crosses lane 1's sensor, told apart by ID
REACTION_NS = (200_000_000, 600_000_000)
SPIN_NS = (3 * SECOND, 8 * SECOND)
PIT_ENTRY_AT = 0.7  # the pit-lane entry, as a fraction of the lap after the line
TEAM_NAMES = ["Red Bulls", "Blue Note", "Green Machine", "Gold Rush", "Silver Arrows",
              "Black Cats", "White Lightning", "Orange Crush", "Purple Haze", "Pink Panthers"]
DRIVER_NAMES = ["Ann", "Bob", "Cy", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jo", "Kim",
                "Lee", "Max", "Ned", "Ola", "Pat"]


class SimEvent(NamedTuple):
    t_ns: int
    lane: int
    car: int | None
    command: contract.Command | None = None


@dataclass
class _Team:
    key: int
    name: str
    drivers: list[tuple[str, float]]  # (name, pace factor)
    car_factor: float
    rng: random.Random
    kart: int | None = None
    driver: int = 0
    stint_start: int = 0
    stint_target: int = 0
    last_line: int = 0
    events: deque = field(default_factory=deque)


class EnduranceModel:
    def __init__(self, teams: int = 6, *, drivers: int = 3, lap_s: float = 5.0,
                 stint_s: float = 60.0, pit_s: float = 8.0, karts: int = 0, seed: int = 0,
                 noise: float = 0.02, spin: float = 0.02) -> None:
        _check(1 <= teams <= 64, "teams must be 1..64")
        _check(1 <= drivers <= 8, "drivers per team must be 1..8")
        _check(lap_s >= 0.2 and stint_s >= lap_s and pit_s >= 0.1,
               "lap_s >= 0.2, stint_s >= lap_s, pit_s >= 0.1")
        _check(karts == 0 or teams < karts <= 255 - KART_BASE,
               f"a kart pool needs more karts than teams (and at most {255 - KART_BASE})")
        _check(0 <= noise <= 0.1 and 0 <= spin <= 1, "noise 0..0.1, spin 0..1")
        self.lap_ns, self.stint_ns, self.pit_ns = (round(x * SECOND)
                                                   for x in (lap_s, stint_s, pit_s))
        self.noise, self.spin, self.seed, self.karts = noise, spin, seed, karts
        field_rng = random.Random(f"{seed}/field")
        spread = [1.0] if teams == 1 else [0.96 + 0.08 * k / (teams - 1) for k in range(teams)]
        field_rng.shuffle(spread)
        names = iter(DRIVER_NAMES * (teams * drivers // len(DRIVER_NAMES) + 1))
        self.teams = [
            _Team(key=k, name=_team_name(k), car_factor=spread[k - 1],
                  drivers=[(f"{next(names)}", field_rng.uniform(0.97, 1.05))
                           for _ in range(drivers)],
                  rng=random.Random(f"{seed}/team/{k}"),
                  kart=KART_BASE + k if karts else None)
            for k in range(1, teams + 1)]
        # Karts have a pace of their own (the team's car_factor stands in for a fixed car).
        self.kart_factor = {KART_BASE + i: f for i, f in enumerate(
            random.Random(f"{seed}/karts").sample(
                [0.96 + 0.08 * i / max(1, karts - 1) for i in range(karts)], karts), start=1)}

    def entrants(self) -> list[contract.EntrantSpec]:
        return [contract.EntrantSpec(car=t.key, driver=t.name,
                                     drivers=[d for d, _ in t.drivers], kart=t.kart)
                for t in self.teams]

    def spare_karts(self) -> list[int]:
        return list(range(KART_BASE + len(self.teams) + 1, KART_BASE + self.karts + 1))

    def events(self, green_ns: int, *,
               pit_lanes: tuple[int, int] | None = None) -> Iterator[SimEvent]:
        """Every event after ``green_ns``, in time order (ties: by team), endlessly."""
        teams = [_Team(t.key, t.name, t.drivers, t.car_factor,
                       random.Random(f"{self.seed}/team/{t.key}"), t.kart) for t in self.teams]
        pool = deque(self.spare_karts())
        heap: list[tuple[int, int, int]] = []
        for i, team in enumerate(teams):
            team.stint_start = green_ns
            team.stint_target = self._target(team)
            team.last_line = green_ns + team.rng.randint(*REACTION_NS)
            self._next_lap(team, team.last_line, pit_lanes, pool, first=True)
            heapq.heappush(heap, (team.events[0].t_ns, team.key, i))
        while heap:
            _, _, i = heapq.heappop(heap)
            team = teams[i]
            event = team.events.popleft()
            if event.lane == LINE_LANE and event.command is None:
                self._next_lap(team, event.t_ns, pit_lanes, pool)
            yield event
            if team.events:
                heapq.heappush(heap, (team.events[0].t_ns, team.key, i))

    # ------------------------------------------------------------------ internals
    def _target(self, team: _Team) -> int:
        return round(self.stint_ns * team.rng.uniform(0.9, 1.1))

    def _lap(self, team: _Team) -> int:
        rng = team.rng
        jitter = max(-3.0, min(3.0, rng.gauss(0.0, 1.0))) * self.noise
        spun = rng.random() < self.spin
        spin_ns = rng.randint(*SPIN_NS)
        factor = self.kart_factor[team.kart] if team.kart is not None else team.car_factor
        factor *= team.drivers[team.driver][1]
        return round(self.lap_ns * factor * (1 + jitter)) + (spin_ns if spun else 0)

    def _next_lap(self, team: _Team, t: int, pit_lanes, pool: deque,
                  first: bool = False) -> None:
        """Queue the team's next lap from the line crossing at ``t`` (with a stop in it
        once its stint is long enough)."""
        car = team.kart if team.kart is not None else team.key
        if first:  # from the grid: the first crossing ends lap 1
            team.events.append(SimEvent(t + self._lap(team), LINE_LANE, car))
            return
        lap = self._lap(team)
        if t + lap - team.stint_start < team.stint_target:
            team.events.append(SimEvent(t + lap, LINE_LANE, car))
            return
        entry = t + round(lap * PIT_ENTRY_AT)
        stop = round(self.pit_ns * team.rng.uniform(0.9, 1.1))
        exit_ = entry + stop
        team.events.append(SimEvent(entry, pit_lanes[0], car) if pit_lanes else
                           SimEvent(entry, 0, None, contract.PitIn(entrant=team.key)))
        team.driver = (team.driver + 1) % len(team.drivers)
        if len(team.drivers) > 1:
            team.events.append(SimEvent(entry + min(SECOND, stop // 2), 0, None,
                                        contract.DriverChange(
                                            entrant=team.key,
                                            driver=team.drivers[team.driver][0])))
        kart = None
        if team.kart is not None:
            pool.append(team.kart)
            kart = team.kart = pool.popleft()
        if pit_lanes and kart is None:
            team.events.append(SimEvent(exit_, pit_lanes[1], car))
        else:
            team.events.append(SimEvent(exit_, 0, None,
                                        contract.PitOut(entrant=team.key, kart=kart)))
        team.stint_start, team.stint_target = exit_, self._target(team)
        new_car = team.kart if team.kart is not None else team.key
        team.events.append(SimEvent(exit_ + round(lap * (1 - PIT_ENTRY_AT)), LINE_LANE,
                                    new_car))


def _team_name(k: int) -> str:
    base = TEAM_NAMES[(k - 1) % len(TEAM_NAMES)]
    return base if k <= len(TEAM_NAMES) else f"{base} {(k - 1) // len(TEAM_NAMES) + 1}"


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)
