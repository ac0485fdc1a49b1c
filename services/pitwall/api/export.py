"""Everything stored, for other tools: one JSON document, and the CSV files per race.

The views are the API's own (race_view, events, championships, club), so an export says
exactly what the pages say. ``pitwall backup export DIR`` writes the same files to a
folder; ``GET /api/export.json`` serves the document (public, like every read).
"""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
from litestar import Response, get
from litestar.datastructures import State

from pitwall import version
from pitwall.api import championships, events
from pitwall.api.club import Car, Driver, car_view, driver_view
from pitwall.api.database import CarRow, ChampionshipRow, DriverRow
from pitwall.api.race_view import LapView, RaceDetail, Scored
from pitwall.laps import store

FORMAT = "pitwall-export"


class RaceExport(msgspec.Struct, kw_only=True):
    detail: RaceDetail
    laps: list[LapView]


class Export(msgspec.Struct, kw_only=True):
    format: str = FORMAT
    version: int = 1
    pitwall_version: str
    track_name: str
    exported_at: float  # wall clock, seconds since 1970
    races: list[RaceExport]
    events: list[events.EventView]
    championships: list[championships.Championship]
    drivers: list[Driver]
    cars: list[Car]


def everything(track_name: str) -> Export:
    """The export (call inside a connection context)."""
    races = []
    for row in store.RaceRow.select().order_by(store.RaceRow.id):
        scored = Scored(row)
        races.append(RaceExport(detail=scored.detail(), laps=scored.laps()))
    return Export(
        pitwall_version=version(), track_name=track_name, exported_at=time.time(),
        races=races,
        events=[events.view(r) for r in store.HeatEventRow.select()
                .order_by(store.HeatEventRow.id)],
        championships=[championships.view(r) for r in ChampionshipRow.select()
                       .order_by(ChampionshipRow.id)],
        drivers=[driver_view(r) for r in DriverRow.select().order_by(DriverRow.id)],
        cars=[car_view(r) for r in CarRow.select().order_by(CarRow.id)])


def write_folder(folder: Path, track_name: str, progress=None) -> list[Path]:
    """``pitwall-export.json`` and ``race-N.csv`` / ``race-N-laps.csv`` for every race not
    aborted, into ``folder`` (call inside a connection context). ``progress(done, total)``
    after each race."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    rows = list(store.RaceRow.select().where(store.RaceRow.phase != "aborted")
                .order_by(store.RaceRow.id))
    for done, row in enumerate(rows, start=1):
        scored = Scored(row)
        for name, text in ((f"race-{row.id}.csv", scored.results_csv()),
                           (f"race-{row.id}-laps.csv", scored.laps_csv())):
            (folder / name).write_text(text)
            written.append(folder / name)
        if progress is not None:
            progress(done, len(rows))
    doc = folder / "pitwall-export.json"
    doc.write_bytes(msgspec.json.format(msgspec.json.encode(everything(track_name))))
    written.append(doc)
    return written


@get("/api/export.json", operation_id="exportEverything",
     summary="Every race (set-up, standings, laps), heat event, championship, driver and "
     "car, as one JSON document", sync_to_thread=True, tags=["races"])
def export_json(state: State) -> Response[Export]:
    with state.db.connection_context():
        doc = everything(state.settings.track_name)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Response(doc, headers={
        "Content-Disposition": f'attachment; filename="pitwall-export-{stamp}.json"'})


route_handlers = [export_json]
