"""Records: the track record and each driver's personal best, per car class.

Pure functions over laps from any number of races (the API reads them from storage, so
records survive restarts and cover every race ever run). Only counted laps that were not
neutralised by a flag are eligible; the earlier of two equal laps holds the record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RecordLap:
    driver: str
    lap_ns: int
    race_id: int
    t_ns: int  # when it was set (order within a race)
    car_class: str = ""  # "" when the club keeps no classes


@dataclass(frozen=True, slots=True)
class Records:
    track: dict[str, RecordLap]  # per car class
    personal: dict[tuple[str, str], RecordLap]  # per (driver, car class)


def _better(a: RecordLap, b: RecordLap | None) -> bool:
    return b is None or (a.lap_ns, a.race_id, a.t_ns) < (b.lap_ns, b.race_id, b.t_ns)


def records(laps: Iterable[RecordLap]) -> Records:
    track: dict[str, RecordLap] = {}
    personal: dict[tuple[str, str], RecordLap] = {}
    for lap in laps:
        if not lap.driver:
            continue  # a car nobody named: no personal best to keep
        if _better(lap, track.get(lap.car_class)):
            track[lap.car_class] = lap
        key = (lap.driver, lap.car_class)
        if _better(lap, personal.get(key)):
            personal[key] = lap
    return Records(track, personal)


def judge(lap: RecordLap, before: Records) -> str | None:
    """What ``lap`` is against the records before it: "track_record", "pb" or None."""
    if _better(lap, before.track.get(lap.car_class)):
        return "track_record"
    if _better(lap, before.personal.get((lap.driver, lap.car_class))):
        return "pb"
    return None


def marks(before: Records, car_class: str, bests: Iterable[tuple[int, str, int | None]]
          ) -> dict[int, str]:
    """What each entrant's best lap of a race is against the records that stood before it.

    ``bests``: (entrant, driver, best lap in ns or None) in classification order. The
    race's fastest lap, if it beats the track record, is "track"; any other driver's best
    that beats their personal best is "pb". A record or a best needs one to beat: on a
    new track, or for a driver's first race, the first laps set them quietly.
    """
    out: dict[int, str] = {}
    timed = [(best, n, entrant, driver)
             for n, (entrant, driver, best) in enumerate(bests) if best is not None]
    if not timed:
        return out
    fastest = min(timed)
    record = before.track.get(car_class)
    if record is not None and fastest[0] < record.lap_ns:
        out[fastest[2]] = "track"
    for best, _, entrant, driver in timed:
        pb = before.personal.get((driver, car_class)) if driver else None
        if entrant not in out and pb is not None and best < pb.lap_ns:
            out[entrant] = "pb"
    return out
