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
