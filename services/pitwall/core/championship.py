"""Championships: points per finishing position over a season's rounds.

A round is a race or a heat-rotation event, given as its classification (driver names
in finishing order) and who set its fastest lap. Points come from a table (position 1
first); a bonus goes to the fastest lap; each driver's worst ``drop_worst`` rounds are
dropped (a round a driver missed counts as 0 and is dropped first). Ties in the
standings go to more wins, then more second places, and so on (count-back), then name.

>>> season = Points((10, 6, 4), fastest_lap=1)
>>> [(r.driver, r.points) for r in standings(season, [(["Ann", "Bob"], "Bob")])]
[('Ann', 10), ('Bob', 7)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pitwall.core.types import RaceError

Round = tuple[Sequence[str], str | None]  # (drivers in finishing order, fastest lap by)


@dataclass(frozen=True, slots=True)
class Points:
    table: tuple[int, ...] = (25, 18, 15, 12, 10, 8, 6, 4, 2, 1)
    fastest_lap: int = 0  # bonus for the round's fastest lap
    drop_worst: int = 0  # rounds dropped from each driver's total

    def __post_init__(self) -> None:
        if any(p < 0 for p in self.table) or self.fastest_lap < 0 or self.drop_worst < 0:
            raise RaceError("points cannot be negative")

    def of(self, position: int) -> int:
        return self.table[position - 1] if 1 <= position <= len(self.table) else 0


@dataclass(frozen=True, slots=True)
class SeasonRow:
    position: int
    driver: str
    points: int  # counted, after the dropped rounds
    rounds: tuple[int | None, ...]  # points per round (None: did not take part)
    dropped: tuple[int, ...]  # indexes of the rounds dropped
    wins: int


def round_points(points: Points, rnd: Round) -> dict[str, int]:
    order, fastest = rnd
    out = {d: points.of(i) for i, d in enumerate(order, start=1)}
    if fastest is not None and fastest in out:
        out[fastest] += points.fastest_lap
    return out


def standings(points: Points, rounds: Sequence[Round]) -> list[SeasonRow]:
    scored = [round_points(points, r) for r in rounds]
    drivers = sorted({d for r in rounds for d in r[0]})
    rows = []
    for d in drivers:
        per = tuple(s.get(d) for s in scored)
        # Drop the worst rounds: missed ones (None, worth 0) first, then the lowest.
        ranked = sorted(range(len(per)), key=lambda i: (per[i] is not None, per[i] or 0, i))
        dropped = tuple(sorted(ranked[:min(points.drop_worst, max(0, len(per) - 1))]))
        total = sum(p for i, p in enumerate(per) if p is not None and i not in dropped)
        places = [list(r[0]).index(d) + 1 if d in r[0] else None for r in rounds]
        rows.append((d, per, dropped, total, places))
    longest = max((len(r[0]) for r in rounds), default=0)

    def countback(row):
        _, _, _, total, places = row
        return (-total, *(-places.count(p) for p in range(1, longest + 1)), row[0])

    rows.sort(key=countback)
    return [SeasonRow(position=i, driver=d, points=total, rounds=per, dropped=dropped,
                      wins=places.count(1))
            for i, (d, per, dropped, total, places) in enumerate(rows, start=1)]
