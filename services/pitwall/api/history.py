"""Records and driver history: what every stored race adds up to.

Track records and personal bests come from the pure core (``core.records``) over each
driver's best lap of every eligible race (``store.record_laps``: no aborted or endurance
races, no laps under a flag or ending at a hand-given crossing), so they cover every race
ever run on the box and survive restarts. A driver's history re-scores the races they
drove, as the results pages do.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import get
from litestar.datastructures import State
from litestar.params import Parameter
from peewee import fn

from pitwall import contract
from pitwall.api import race_view
from pitwall.core import records
from pitwall.laps import store

HISTORY_RACES = 200  # a driver's newest races shown (and plotted)


class RecordView(msgspec.Struct, kw_only=True):
    driver: str
    car_class: str
    lap_ms: float
    race_id: int
    race_name: str
    set_at: float  # wall clock (seconds since 1970) of the race's set-up


class RecordsView(msgspec.Struct, kw_only=True):
    track: list[RecordView]  # one per car class
    personal: list[RecordView]  # one per driver and car class, fastest first


class HistoryRace(msgspec.Struct, kw_only=True):
    race_id: int
    name: str
    mode: str
    created_at: float
    position: int
    entrants: int
    laps: int
    best_ms: float | None
    avg_ms: float | None  # of the counted laps (none under a flag)
    car_class: str
    event_id: int | None  # a heat of this heat-rotation event


class History(msgspec.Struct, kw_only=True):
    driver: str
    best_ms: float | None
    races: list[HistoryRace]  # oldest first


def _views(laps: list[records.RecordLap], names: dict[int, store.RaceRow]) -> list[RecordView]:
    return [RecordView(driver=r.driver, car_class=r.car_class, lap_ms=contract.ms(r.lap_ns),
                       race_id=r.race_id, race_name=names[r.race_id].name,
                       set_at=names[r.race_id].created_at)
            for r in sorted(laps, key=lambda r: (r.car_class, r.lap_ns, r.race_id, r.driver))]


@get("/api/records", operation_id="records",
     summary="Track records (per car class) and every driver's personal bests",
     sync_to_thread=True, tags=["club"])
def get_records(state: State, car_class: Annotated[
        str | None, Parameter(max_length=40, description="only this car class")] = None
                ) -> RecordsView:
    with state.db.connection_context():
        held = records.records(store.record_laps())
        track = [r for c, r in held.track.items() if car_class is None or c == car_class]
        personal = [r for (_, c), r in held.personal.items()
                    if car_class is None or c == car_class]
        ids = {r.race_id for r in track + personal}
        names = {row.id: row for row in store.RaceRow.select(
            store.RaceRow.id, store.RaceRow.name, store.RaceRow.created_at)
            .where(store.RaceRow.id.in_(ids))}
    return RecordsView(track=_views(track, names), personal=_views(personal, names))


@get("/api/drivers/history", operation_id="driverHistory",
     summary="A driver's races: position, laps, best and average lap (oldest first)",
     sync_to_thread=True, tags=["club"])
def driver_history(state: State, name: Annotated[
        str, Parameter(min_length=1, max_length=60, description="the driver's name")]
                   ) -> History:
    with state.db.connection_context():
        races = []
        for row in store.RaceRow.select().order_by(store.RaceRow.id.desc()):
            if row.phase == "aborted":
                continue
            cfg = store.config_from_json(row.config)
            keys = [e.key for e in cfg.entrants if e.driver == name]
            if cfg.mode == "endurance" or not keys:
                continue
            standings = race_view.Scored(row).standings()
            mine = next((s for s in standings if s.entrant == keys[0]), None)
            if mine is None:
                continue
            avg = (store.LapRow.select(fn.AVG(store.LapRow.lap_ns))
                   .where(store.LapRow.race == row.id, store.LapRow.entrant == keys[0],
                          ~store.LapRow.neutralised).scalar())
            races.append(HistoryRace(
                race_id=row.id, name=row.name, mode=cfg.mode, created_at=row.created_at,
                position=mine.position, entrants=len(standings), laps=mine.laps,
                best_ms=mine.best_ms, avg_ms=None if avg is None else contract.ms(round(avg)),
                car_class=cfg.car_class, event_id=row.event))
            if len(races) == HISTORY_RACES:
                break
    races.reverse()  # none yet is an answer too: a new driver's page is empty, not missing
    bests = [r.best_ms for r in races if r.best_ms is not None]
    return History(driver=name, best_ms=min(bests, default=None), races=races)


route_handlers = [get_records, driver_history]
