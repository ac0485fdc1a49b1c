"""Race reads: the list, the live race, and any stored race re-scored from its log."""

from __future__ import annotations

import time
from typing import Annotated

import msgspec
from litestar import Response, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import Parameter, PathParameter

from pitwall import contract
from pitwall.api import race_view
from pitwall.api.race_view import (
    KartPool,
    LapView,
    PassView,
    ProjectedRow,
    RaceDetail,
    RaceSummary,
    Results,
    StintRow,
)
from pitwall.laps import store

RowId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="database id")]


def csv_download(text: str, filename: str) -> Response[str]:
    # Litestar adds "; charset=utf-8" to text types itself.
    return Response(text, media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _scored(state: State, race_id: int) -> race_view.Scored:
    row = race_view.get_race(race_id)
    if row is None:
        raise NotFoundException(f"no race {race_id}")
    return race_view.Scored(row)


@get("/api/races", operation_id="listRaces", summary="Stored races, newest first",
     sync_to_thread=True, tags=["races"])
def list_races(
    state: State,
    limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
    offset: Annotated[int, Parameter(ge=0, le=2**31)] = 0,
) -> list[RaceSummary]:
    with state.db.connection_context():
        return race_view.list_races(limit, offset)


@get("/api/races/current", operation_id="currentRace",
     summary="The live race: the lap service's latest race/state, as published",
     tags=["races"])
async def current_race(state: State) -> Response[contract.RaceState]:
    payload = state.bridge.state()
    if payload is None:  # nothing retained yet: no race has ever been set up
        payload = contract.encode(contract.RaceState(race_id=None, phase="idle",
                                                     now_ns=time.monotonic_ns()))
    return Response(payload, media_type="application/json")


@get("/api/races/{race_id:int}", operation_id="getRace",
     summary="One race: settings and standings, re-scored from its pass log",
     sync_to_thread=True, tags=["races"])
def get_race(state: State, race_id: RowId) -> RaceDetail:
    with state.db.connection_context():
        return _scored(state, race_id).detail()


@get("/api/races/{race_id:int}/laps", operation_id="raceLaps",
     summary="Every counted lap of a race, in time order", sync_to_thread=True, tags=["races"])
def race_laps(state: State, race_id: RowId) -> list[LapView]:
    with state.db.connection_context():
        return _scored(state, race_id).laps()


@get("/api/races/{race_id:int}/passes", operation_id="racePasses",
     summary="A race's pass log and what each pass meant", sync_to_thread=True,
     tags=["races"])
def race_passes(state: State, race_id: RowId) -> list[PassView]:
    with state.db.connection_context():
        return _scored(state, race_id).passes()


class RefusedPassView(msgspec.Struct, kw_only=True):
    """A pass the lap service refused for this race and kept aside (never scored)."""

    id: int
    lane: int
    car: int | None
    t_ns: int  # the stamp as sent
    source: str
    reason: str  # e.g. "lane 7 is not a lane of race 3"
    received_ns: int  # the lap service's clock when it refused it (not a crossing time)


@get("/api/races/{race_id:int}/refused", operation_id="raceRefusedPasses",
     summary="Passes refused for a race as implausible (unknown lane, stamp before the "
             "set-up or beyond the horizon), newest first: kept aside, never scored",
     sync_to_thread=True, tags=["races"])
def race_refused(state: State, race_id: RowId,
                 limit: Annotated[int, Parameter(ge=1, le=1000)] = 100) -> list[RefusedPassView]:
    with state.db.connection_context():
        if race_view.get_race(race_id) is None:
            raise NotFoundException(f"no race {race_id}")
        return [RefusedPassView(id=r.id, lane=r.lane, car=r.car, t_ns=r.t_ns, source=r.source,
                                reason=r.reason, received_ns=r.received_ns)
                for r in store.refused_of(race_id, limit)]


@get("/api/races/{race_id:int}/results.json", operation_id="raceResultsJson",
     summary="A race's classification (JSON)", sync_to_thread=True, tags=["races"])
def results_json(state: State, race_id: RowId) -> Results:
    with state.db.connection_context():
        return _scored(state, race_id).results()


@get("/api/races/{race_id:int}/results.csv", operation_id="raceResultsCsv",
     summary="A race's classification (CSV, one row per entrant)", sync_to_thread=True,
     media_type="text/csv", tags=["races"])
def results_csv(state: State, race_id: RowId) -> Response[str]:
    with state.db.connection_context():
        text = _scored(state, race_id).results_csv()
    return csv_download(text, f"race-{race_id}.csv")


@get("/api/races/{race_id:int}/laps.csv", operation_id="raceLapsCsv",
     summary="Every counted lap of a race (CSV, in time order)", sync_to_thread=True,
     media_type="text/csv", tags=["races"])
def laps_csv(state: State, race_id: RowId) -> Response[str]:
    with state.db.connection_context():
        text = _scored(state, race_id).laps_csv()
    return csv_download(text, f"race-{race_id}-laps.csv")


def _endurance(state: State, race_id: int, read: str):
    try:
        return getattr(_scored(state, race_id), read)()
    except race_view.NotEndurance as exc:
        raise NotFoundException(str(exc)) from None


@get("/api/races/{race_id:int}/stints", operation_id="raceStints",
     summary="Endurance: every stint of every team (driver, laps, best, average, pace)",
     sync_to_thread=True, tags=["endurance"])
def race_stints(state: State, race_id: RowId) -> list[StintRow]:
    with state.db.connection_context():
        return _endurance(state, race_id, "stints")


@get("/api/races/{race_id:int}/stints.csv", operation_id="raceStintsCsv",
     summary="Endurance: the stints as CSV, one row per stint", sync_to_thread=True,
     media_type="text/csv", tags=["endurance"])
def race_stints_csv(state: State, race_id: RowId) -> Response[str]:
    with state.db.connection_context():
        text = _endurance(state, race_id, "stints_csv")
    return csv_download(text, f"race-{race_id}-stints.csv")


@get("/api/races/{race_id:int}/karts", operation_id="raceKarts",
     summary="Endurance: the kart pool's pace tags and the chance of a good kart next",
     sync_to_thread=True, tags=["endurance"])
def race_karts(state: State, race_id: RowId) -> KartPool:
    with state.db.connection_context():
        return _endurance(state, race_id, "karts")


@get("/api/races/{race_id:int}/projection", operation_id="raceProjection",
     summary="Endurance: the standings once every team has served its required stops",
     sync_to_thread=True, tags=["endurance"])
def race_projection(state: State, race_id: RowId) -> list[ProjectedRow]:
    with state.db.connection_context():
        return _endurance(state, race_id, "projection")


route_handlers = [list_races, current_race, get_race, race_laps, race_passes, race_refused,
                  results_json, results_csv, laps_csv, race_stints, race_stints_csv,
                  race_karts, race_projection]
