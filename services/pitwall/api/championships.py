"""Championships: a points table over rounds, each round a stored race or heat event.

The API keeps only the season's definition (its points table and which races and events
are its rounds); every round's classification is re-scored from the race logs when asked
for (``race_view``, ``events``), so an edited lap moves the championship too. Points,
the fastest-lap bonus, dropped rounds and count-back are the pure core's
(``core.championship``).
"""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Annotated

import msgspec
from litestar import Response, delete, get, post
from litestar.datastructures import State
from litestar.exceptions import ClientException, HTTPException, NotFoundException
from litestar.params import JSONBody, PathParameter
from msgspec import Meta

from pitwall.api import events, race_view
from pitwall.api.database import ChampionshipRow, RoundRow
from pitwall.api.race_view import _cell
from pitwall.api.races import csv_download
from pitwall.core import RaceError, championship
from pitwall.laps import store

RowId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="database id")]
RoundNo = Annotated[int, PathParameter(ge=1, le=10_000, description="round number, 1-based")]
Ref = Annotated[int, Meta(ge=1, le=2**63 - 1)]
DEFAULT_POINTS = [25, 18, 15, 12, 10, 8, 6, 4, 2, 1]


class ChampionshipIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, Meta(min_length=1, max_length=80)]
    # Points for 1st, 2nd, …; places beyond the table score 0.
    points: Annotated[list[Annotated[int, Meta(ge=0, le=1000)]],
                      Meta(min_length=1, max_length=64)] = msgspec.field(
        default_factory=lambda: list(DEFAULT_POINTS))
    fastest_lap: Annotated[int, Meta(ge=0, le=1000)] = 0  # bonus for a round's fastest lap
    drop_worst: Annotated[int, Meta(ge=0, le=100)] = 0  # each driver's worst rounds dropped


class RoundIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Exactly one of the two: a race, or a heat-rotation event."""

    race_id: Ref | None = None
    event_id: Ref | None = None


class RoundView(msgspec.Struct, kw_only=True):
    no: int
    race_id: int | None
    event_id: int | None
    name: str
    finished: bool  # only finished rounds score


class SeasonRowView(msgspec.Struct, kw_only=True):
    position: int
    driver: str
    points: int  # counted, after the dropped rounds
    rounds: list[int | None]  # per round (null: did not take part, or not run yet)
    dropped: list[int]  # indexes (0-based) into rounds
    wins: int


class Championship(msgspec.Struct, kw_only=True):
    id: int
    name: str
    points: list[int]
    fastest_lap: int
    drop_worst: int
    rounds: list[RoundView]
    standings: list[SeasonRowView]


class ChampionshipSummary(msgspec.Struct, kw_only=True):
    id: int
    name: str
    rounds: int


def _rules(row: ChampionshipRow) -> championship.Points:
    return championship.Points(tuple(json.loads(row.points)), fastest_lap=row.fastest_lap,
                               drop_worst=row.drop_worst)


def _round(rnd: RoundRow, no: int) -> tuple[RoundView, championship.Round | None]:
    """The round as listed, and its classification (None until it has finished)."""
    if rnd.race_id is not None:
        row = race_view.get_race(rnd.race_id)
        if row is None:  # the race's rows were removed: keep the round, score nothing
            return RoundView(no=no, race_id=rnd.race_id, event_id=None,
                             name="(race removed)", finished=False), None
        done = row.phase == "finished"
        view = RoundView(no=no, race_id=row.id, event_id=None, name=row.name or
                         f"Race {row.id}", finished=done)
        if not done:
            return view, None
        standings = [s for s in race_view.Scored(row).standings() if s.laps > 0]
        timed = [s for s in standings if s.best_ms is not None]
        fastest = min(timed, key=lambda s: (s.best_ms, s.position)).driver if timed else None
        return view, ([s.driver or f"#{s.entrant}" for s in standings], fastest)
    ev_row = store.HeatEventRow.get_or_none(store.HeatEventRow.id == rnd.event_id)
    if ev_row is None:
        return RoundView(no=no, race_id=None, event_id=rnd.event_id,
                         name="(event removed)", finished=False), None
    ev = events.view(ev_row)
    view = RoundView(no=no, race_id=None, event_id=ev.id, name=ev.name or f"Event {ev.id}",
                     finished=ev.finished)
    if not ev.finished:
        return view, None
    timed = [r for r in ev.standings if r.best_ms is not None]
    fastest = min(timed, key=lambda r: (r.best_ms, r.position)).driver if timed else None
    return view, ([r.driver for r in ev.standings], fastest)


def view(row: ChampionshipRow) -> Championship:
    rounds = list(RoundRow.select().where(RoundRow.championship == row.id)
                  .order_by(RoundRow.id))
    views, scored = [], []
    for no, rnd in enumerate(rounds, start=1):
        v, classification = _round(rnd, no)
        views.append(v)
        if classification is not None:
            scored.append((no - 1, classification))
    # Only finished rounds score (a round still to run is not a round missed, so it can
    # never use up a dropped round); rows are spread back over every round.
    table = championship.standings(_rules(row), [c for _, c in scored])
    index = [i for i, _ in scored]
    standings = []
    for r in table:
        per: list[int | None] = [None] * len(rounds)
        for k, points in enumerate(r.rounds):
            per[index[k]] = points
        standings.append(SeasonRowView(
            position=r.position, driver=r.driver, points=r.points, rounds=per,
            dropped=[index[k] for k in r.dropped], wins=r.wins))
    return Championship(id=row.id, name=row.name, points=json.loads(row.points),
                        fastest_lap=row.fastest_lap, drop_worst=row.drop_worst,
                        rounds=views, standings=standings)


def _get(championship_id: int) -> ChampionshipRow:
    row = ChampionshipRow.get_or_none(ChampionshipRow.id == championship_id)
    if row is None:
        raise NotFoundException(f"no championship {championship_id}")
    return row


@get("/api/championships", operation_id="listChampionships",
     summary="Championships, newest first", sync_to_thread=True, tags=["club"])
def list_championships(state: State) -> list[ChampionshipSummary]:
    with state.db.connection_context():
        rows = ChampionshipRow.select().order_by(ChampionshipRow.id.desc())
        return [ChampionshipSummary(id=r.id, name=r.name, rounds=r.rounds.count())
                for r in rows]


@post("/api/championships", operation_id="addChampionship",
      summary="Start a championship: its points table and rules (director)",
      status_code=201, sync_to_thread=True, tags=["club"])
def add_championship(data: JSONBody[ChampionshipIn], state: State) -> Championship:
    try:
        championship.Points(tuple(data.points), data.fastest_lap, data.drop_worst)
    except RaceError as exc:
        raise ClientException(str(exc)) from None
    with state.db.connection_context():
        row = ChampionshipRow.create(name=data.name.strip(), points=json.dumps(data.points),
                                     fastest_lap=data.fastest_lap, drop_worst=data.drop_worst,
                                     created_at=time.time())
        return view(row)


@get("/api/championships/{championship_id:int}", operation_id="getChampionship",
     summary="A championship: rounds and standings, re-scored from the races",
     sync_to_thread=True, tags=["club"])
def get_championship(state: State, championship_id: RowId) -> Championship:
    with state.db.connection_context():
        return view(_get(championship_id))


@delete("/api/championships/{championship_id:int}", operation_id="deleteChampionship",
        summary="Remove a championship (its races stay) (director)", sync_to_thread=True,
        tags=["club"])
def delete_championship(state: State, championship_id: RowId) -> None:
    with state.db.connection_context(), state.db.atomic():
        RoundRow.delete().where(RoundRow.championship == championship_id).execute()
        if not ChampionshipRow.delete().where(
                ChampionshipRow.id == championship_id).execute():
            raise NotFoundException(f"no championship {championship_id}")


@post("/api/championships/{championship_id:int}/rounds", operation_id="addRound",
      summary="Add a race or a heat-rotation event as the next round (director)",
      status_code=201, sync_to_thread=True, tags=["club"])
def add_round(state: State, championship_id: RowId, data: JSONBody[RoundIn]) -> Championship:
    if (data.race_id is None) == (data.event_id is None):
        raise ClientException("a round is a race_id or an event_id (exactly one)")
    with state.db.connection_context(), state.db.atomic():
        row = _get(championship_id)
        if data.race_id is not None:
            race = race_view.get_race(data.race_id)
            if race is None:
                raise NotFoundException(f"no race {data.race_id}")
            if race.event is not None:
                raise ClientException(f"race {race.id} is a heat of event {race.event}: "
                                      "add the event as the round")
        elif store.HeatEventRow.get_or_none(store.HeatEventRow.id == data.event_id) is None:
            raise NotFoundException(f"no heat-rotation event {data.event_id}")
        taken = RoundRow.select().where(RoundRow.championship == row.id,
                                        RoundRow.race == data.race_id
                                        if data.race_id is not None
                                        else RoundRow.event == data.event_id).exists()
        if taken:
            what = f"race {data.race_id}" if data.race_id else f"event {data.event_id}"
            raise HTTPException(status_code=409, detail=f"{what} is a round already")
        RoundRow.create(championship=row.id, race=data.race_id, event=data.event_id)
        return view(row)


@delete("/api/championships/{championship_id:int}/rounds/{no:int}", operation_id="deleteRound",
        summary="Remove a round (the race stays) (director)", status_code=200,
        sync_to_thread=True, tags=["club"])
def delete_round(state: State, championship_id: RowId, no: RoundNo) -> Championship:
    with state.db.connection_context(), state.db.atomic():
        row = _get(championship_id)
        rounds = list(RoundRow.select().where(RoundRow.championship == row.id)
                      .order_by(RoundRow.id))
        if no > len(rounds):
            raise NotFoundException(f"championship {row.id} has no round {no}")
        rounds[no - 1].delete_instance()
        return view(row)


@get("/api/championships/{championship_id:int}/standings.csv",
     operation_id="championshipCsv", summary="A championship's standings (CSV)",
     sync_to_thread=True, media_type="text/csv", tags=["club"])
def championship_csv(state: State, championship_id: RowId) -> Response[str]:
    with state.db.connection_context():
        season = view(_get(championship_id))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["position", "driver", "points", "wins",
                     *(f"round_{r.no}" for r in season.rounds)])
    for r in season.standings:
        cells = ["" if p is None else f"({p})" if i in r.dropped else p
                 for i, p in enumerate(r.rounds)]
        writer.writerow([r.position, _cell(r.driver), r.points, r.wins, *cells])
    return csv_download(out.getvalue(), f"championship-{championship_id}.csv")


route_handlers = [list_championships, add_championship, get_championship,
                  delete_championship, add_round, delete_round, championship_csv]
