"""A pure model of slot cars lapping a track: no I/O, no clock reads, seeded randomness.

Given a start time it yields every crossing of the finish line, in time order across
cars, as ``Crossing(t_ns, lane, car)``. The same seed, race number and start time give
the same crossings, so a test (or a bug report) can reproduce a whole race.

>>> from itertools import islice
>>> model = TrackModel(cars=2, lap_s=1.0, seed=7, deslot=0)
>>> [c.car for c in islice(model.passes(0), 4)]
[1, 2, 1, 2]
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

MAX_CARS = 64
MAX_LANES = 64
MIN_LAP_S = 0.1  # a bounce echo (<= 5 ms) must land before the car's next real crossing

REACTION_NS = (50_000_000, 300_000_000)  # driver's reaction to the green light
DESLOT_NS = (3_000_000_000, 8_000_000_000)  # marshal puts the car back on the track
BOUNCE_NS = (500_000, 5_000_000)  # a reed/beam sensor chattering after the real edge


class Crossing(NamedTuple):
    t_ns: int
    lane: int
    car: int | None


@dataclass(frozen=True)
class Car:
    number: int  # car ID (1..N); also the key of its random stream
    lane: int
    pace_ns: int  # the car's typical lap time


class TrackModel:
    """Cars with their own pace, per-lap noise, deslots and optional sensor bounce.

    ``spread`` sets the field's pace range (±10 % of ``lap_s`` by default, spread evenly
    over the cars so every car has its own pace); ``noise`` is the standard deviation
    of a lap relative to the car's pace; ``deslot`` and ``bounce`` are probabilities
    per lap and per crossing.
    """

    def __init__(self, cars: int = 6, *, lanes: int | None = None, lap_s: float = 5.0,
                 spread: float = 0.10, noise: float = 0.02, deslot: float = 0.03,
                 bounce: float = 0.0, seed: int = 0, car_ids: bool = True) -> None:
        lanes = cars if lanes is None else lanes
        _check(1 <= cars <= MAX_CARS, f"cars must be 1..{MAX_CARS}")
        _check(1 <= lanes <= MAX_LANES, f"lanes must be 1..{MAX_LANES}")
        _check(lap_s >= MIN_LAP_S, f"lap time must be at least {MIN_LAP_S} s")
        _check(0 <= spread <= 0.5, "spread must be 0..0.5")
        _check(0 <= noise <= 0.1, "noise must be 0..0.1")
        _check(0 <= deslot <= 1 and 0 <= bounce <= 1, "probabilities must be 0..1")
        self.noise, self.deslot, self.bounce = noise, deslot, bounce
        self.seed, self.car_ids = seed, car_ids
        # Evenly spread paces, shuffled, so no two cars share a pace and car 1 is not
        # always the fastest.
        factors = [1.0] if cars == 1 else [
            1 - spread + 2 * spread * k / (cars - 1) for k in range(cars)]
        random.Random(f"{seed}/pace").shuffle(factors)
        self.cars = [Car(number=i, lane=(i - 1) % lanes + 1, pace_ns=round(lap_s * f * 1e9))
                     for i, f in zip(range(1, cars + 1), factors, strict=True)]

    def passes(self, start_ns: int, race: int = 0) -> Iterator[Crossing]:
        """Every crossing of every car after ``start_ns``, in time order (endless)."""
        # Keyed on (t, lane): car is None for analog cars and None does not compare.
        return heapq.merge(*(self.car_passes(car, start_ns, race) for car in self.cars),
                           key=lambda c: (c.t_ns, c.lane))

    def car_passes(self, car: Car, start_ns: int, race: int = 0) -> Iterator[Crossing]:
        """One car's crossings: it leaves the grid (behind the line) after its reaction
        time, so its first crossing is one lap later."""
        # One stream per (seed, race, car): a car's laps do not depend on the others,
        # and each race of a session is different. str seeds are hashed with SHA-512,
        # so they are stable across processes.
        rng = random.Random(f"{self.seed}/{race}/{car.number}")
        car_id = car.number if self.car_ids else None
        t = start_ns + rng.randint(*REACTION_NS)
        while True:
            # Draw every number every lap, used or not, so changing one probability
            # leaves the rest of the race unchanged (tests compare such pairs).
            jitter = max(-3.0, min(3.0, rng.gauss(0.0, 1.0))) * self.noise
            deslotted = rng.random() < self.deslot
            deslot_ns = rng.randint(*DESLOT_NS)
            bounced = rng.random() < self.bounce
            bounce_ns = rng.randint(*BOUNCE_NS)
            t += round(car.pace_ns * (1 + jitter)) + (deslot_ns if deslotted else 0)
            yield Crossing(t, car.lane, car_id)
            if bounced:
                yield Crossing(t + bounce_ns, car.lane, car_id)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)
