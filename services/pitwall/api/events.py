"""Heat-rotation events as the API shows them: the plan, each heat's result and the
overall classification, re-scored from the heats' logs by the pure core."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated

import msgspec
from litestar import Response, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import Parameter, PathParameter

from pitwall import contract
from pitwall.api.race_view import _cell
from pitwall.api.races import csv_download
from pitwall.core import Kind, Race, heats
from pitwall.laps import store
from pitwall.laps.heats import Event, finished_at

RowId = Annotated[int, PathParameter(ge=1, le=2**63 - 1, description="database id")]


class HeatView(msgspec.Struct, kw_only=True):
    heat: int
    race_id: int | None  # null: not run yet
    phase: str  # "planned" before it is set up
    grid: list[contract.GridSlot]
    sitting_out: list[str]
    scores: dict[str, float]  # driver -> laps plus the fraction of the lap in progress


class EventRowView(msgspec.Struct, kw_only=True):
    position: int
    driver: str
    total: float
    heats: list[float | None]  # per heat; null: sat out (or not run yet)
    best_ms: float | None


class EventView(msgspec.Struct, kw_only=True):
    id: int
    name: str
    drivers: list[str]
    lanes: list[int]
    duration_s: int
    pause_s: int
    heats: list[HeatView]
    standings: list[EventRowView]
    finished: bool


class EventSummary(msgspec.Struct, kw_only=True):
    id: int
    name: str
    drivers: int
    heats: int
    created_at: float
    finished: bool  # every heat has run to its end


def _runs(race: Race, event: Event, heat: int) -> list[heats.HeatRun]:
    """Each driver's counted crossings in one heat, up to its end."""
    if race.plan is None:
        return []
    end = finished_at(race) or race.ends_ns(race.last_event_ns())
    slots = {g.lane: g.driver for g in event.grid(heat)}
    lanes = {lane: n for n, lane in enumerate(event.lanes)}
    crossings: dict[int, list[int]] = {lane: [] for lane in slots}
    for o in race.outcomes.values():
        if o.kind is Kind.LAP and o.entrant in crossings:
            crossings[o.entrant].append(o.t_ns)
    best = {s.entrant: s.best_ns for s in race.standings()}
    return [heats.HeatRun(driver=event.drivers.index(driver), lane=lanes[lane],
                          start_ns=race.plan.green_ns, end_ns=end,
                          crossings=tuple(sorted(crossings[lane])), best_ns=best.get(lane))
            for lane, driver in slots.items()]


def view(row: store.HeatEventRow) -> EventView:
    event = Event(row)
    races = {r.heat: r for r in store.RaceRow.select().where(store.RaceRow.event == row.id)
             .order_by(store.RaceRow.id)}  # a heat set up twice: the later race counts
    heat_views, runs = [], []
    for heat in range(1, len(event.plan) + 1):
        race_row = races.get(heat)
        heat_runs = []
        if race_row is not None:
            race = Race(*store.load_race_logs(race_row))
            heat_runs = _runs(race, event, heat) if race_row.phase != "aborted" else []
        runs.append(heat_runs)
        heat_views.append(HeatView(
            heat=heat, race_id=race_row.id if race_row else None,
            phase=race_row.phase if race_row else "planned", grid=event.grid(heat),
            sitting_out=event.sitting_out(heat),
            scores={event.drivers[r.driver]: round(heats.score(r), 3) for r in heat_runs}))
    rows = heats.classify(len(event.drivers), runs)
    return EventView(
        id=row.id, name=row.name, drivers=event.drivers, lanes=event.lanes,
        duration_s=row.duration_s, pause_s=row.pause_s, heats=heat_views,
        standings=[EventRowView(position=r.position, driver=event.drivers[r.driver],
                                total=r.total, heats=list(r.heats),
                                best_ms=contract.ms(r.best_ns)) for r in rows],
        finished=all(h.phase == "finished" for h in heat_views))


def _get(event_id: int) -> store.HeatEventRow:
    row = store.HeatEventRow.get_or_none(store.HeatEventRow.id == event_id)
    if row is None:
        raise NotFoundException(f"no heat-rotation event {event_id}")
    return row


@get("/api/events", operation_id="listEvents", summary="Heat-rotation events, newest first",
     sync_to_thread=True, tags=["club"])
def list_events(state: State, limit: Annotated[int, Parameter(ge=1, le=500)] = 50
                ) -> list[EventSummary]:
    with state.db.connection_context():
        rows = store.HeatEventRow.select().order_by(store.HeatEventRow.id.desc()).limit(limit)
        out = []
        for r in rows:
            heats_run = {race.heat: race.phase for race in store.RaceRow.select(
                store.RaceRow.heat, store.RaceRow.phase).where(store.RaceRow.event == r.id)
                .order_by(store.RaceRow.id)}  # a heat set up twice: the later counts
            planned = len(Event(r).plan)
            out.append(EventSummary(
                id=r.id, name=r.name, drivers=len(json.loads(r.drivers)), heats=planned,
                created_at=r.created_at, finished=len(heats_run) == planned
                and all(p == "finished" for p in heats_run.values())))
        return out


@get("/api/events/{event_id:int}", operation_id="getEvent",
     summary="A heat-rotation event: plan, heat results, overall classification",
     sync_to_thread=True, tags=["club"])
def get_event(state: State, event_id: RowId) -> EventView:
    with state.db.connection_context():
        return view(_get(event_id))


@get("/api/events/{event_id:int}/results.csv", operation_id="eventResultsCsv",
     summary="A heat-rotation event's classification (CSV)", sync_to_thread=True,
     media_type="text/csv", tags=["club"])
def event_csv(state: State, event_id: RowId) -> Response[str]:
    with state.db.connection_context():
        ev = view(_get(event_id))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["position", "driver", "total", "best_s",
                     *(f"heat_{h.heat}" for h in ev.heats)])
    for r in ev.standings:
        writer.writerow([r.position, _cell(r.driver), f"{r.total:.3f}",
                         "" if r.best_ms is None else f"{r.best_ms / 1000:.3f}",
                         *("" if x is None else f"{x:.3f}" for x in r.heats)])
    return csv_download(out.getvalue(), f"event-{event_id}.csv")


route_handlers = [list_events, get_event, event_csv]
