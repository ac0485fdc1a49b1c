"""The maintainer's side of the API (director only, reads included): the box's health and
its last hour, the Wi-Fi clients, the diagnostics archive, backups and restore.

Backups are SQLite's (``backup.archive``); with ``database_url`` (PostgreSQL) the
database has its own tools, and these answer 409 saying so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import ClientException, HTTPException

from pitwall import contract, version
from pitwall import settings as settings_mod
from pitwall.api.commands import send
from pitwall.api.database import ensure_tables
from pitwall.api.health_log import HealthPoint
from pitwall.api.portal_clients import Lease
from pitwall.backup import archive
from pitwall.health import diagnostics

log = logging.getLogger(__name__)

DIRECTOR = {"director_read": True}
MAX_UPLOAD = 2 * 1024**3  # a backup of many seasons is megabytes; the SD card is the limit


class MaintenanceHealth(msgspec.Struct, kw_only=True):
    now: contract.HealthState | None  # null: no reading (pitwall health not running?)
    history: list[HealthPoint]  # the last hour, oldest first


class Restored(msgspec.Struct, kw_only=True):
    restored: bool
    races: int
    passes: int
    created_at: float | None  # when the backup was made (its manifest)


def _sqlite_only(state: State) -> Path:
    if state.settings.database_url:
        raise HTTPException(status_code=409, detail="backups here are of the SQLite "
                            "database; with PostgreSQL (database_url) use pg_dump and "
                            "pg_restore")
    return Path(state.settings.data_dir)


def _download(data: bytes, filename: str) -> Response[bytes]:
    return Response(data, media_type="application/gzip", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store"})


@get("/api/maintenance/health", operation_id="maintenanceHealth", opt=DIRECTOR,
     summary="The box's latest health reading and the last hour (director)",
     tags=["maintenance"])
async def health(state: State) -> MaintenanceHealth:
    log_ = state.bridge.health
    return MaintenanceHealth(now=log_.now, history=log_.history())


@get("/api/maintenance/clients", operation_id="wifiClients", opt=DIRECTOR,
     summary="Devices on the race Wi-Fi, from dnsmasq's lease file (director)",
     sync_to_thread=True, tags=["maintenance"])
def clients(state: State) -> list[Lease]:
    return state.portal.clients.leases.all()


@get("/api/maintenance/diagnostics.tar.gz", operation_id="diagnostics", opt=DIRECTOR,
     summary="Journal, settings without secrets, health and versions, as one archive "
     "(director)", sync_to_thread=True, media_type="application/gzip", tags=["maintenance"])
def diagnostics_archive(state: State) -> Response[bytes]:
    b = state.bridge
    data = diagnostics.archive(state.settings, b.health.now, b.health.history(), b.lap_stats)
    return _download(data, f"pitwall-diagnostics-{time.strftime('%Y%m%d-%H%M%S')}.tar.gz")


@post("/api/maintenance/backup", operation_id="createBackup", status_code=200,
      summary="A backup archive of the race database (consistent while races run) and "
      "the settings without secrets (director)", sync_to_thread=True,
      media_type="application/gzip", tags=["maintenance"])
def create_backup(state: State) -> Response[bytes]:
    _sqlite_only(state)
    s = state.settings
    try:
        data = archive.create(s.database_path, settings_mod.public(s),
                              track_name=s.track_name, pitwall_version=version())
    except archive.BackupError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    log.info("backup made (%d bytes)", len(data))
    return _download(data, archive.file_name(s.track_name))


@post("/api/maintenance/restore", operation_id="restoreBackup", status_code=200,
      summary="Restore a backup archive (the raw file as the body); refused while a race "
      "is under way, and for an archive that is damaged or not Pitwall's (director)",
      request_max_body_size=MAX_UPLOAD, tags=["maintenance"])
async def restore(request: Request, state: State) -> Restored:
    data_dir = _sqlite_only(state)
    body = await request.body()
    try:
        verified = await asyncio.to_thread(archive.stage, body, data_dir)
    except archive.BackupError as exc:
        raise ClientException(f"{exc}; nothing was changed") from None
    try:
        await send(state, contract.Restore())
    except HTTPException as exc:
        archive.unstage(data_dir)  # refused or unanswered: the current data stays
        raise HTTPException(status_code=exc.status_code,
                            detail=f"{exc.detail}; nothing was changed") from None
    # The reply comes just before the swap: wait for it, then make sure the API's own
    # tables exist in the database taken up (an older backup may lack newer ones).
    deadline = time.monotonic() + archive.SWAP_WAIT_S
    while verified.db_path.exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if verified.db_path.exists():
        raise HTTPException(status_code=504, detail="the lap service accepted the restore "
                            "but has not taken it up yet; it will when it can")
    await asyncio.to_thread(ensure_tables, state.db)
    log.warning("backup restored: %d races, %d passes", verified.races, verified.passes)
    return Restored(restored=True, races=verified.races, passes=verified.passes,
                    created_at=verified.manifest.get("created_at"))


route_handlers = [health, clients, diagnostics_archive, create_backup, restore]
