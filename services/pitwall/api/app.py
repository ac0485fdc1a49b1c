"""The API's composition root: ``create_app(settings)`` wires storage, the MQTT bridge,
live push, auth and the feature modules into one Litestar app.

Reads are public; every request that could change something passes the
``writes_need_director`` guard (auth.py), applied to the whole app.
"""

from __future__ import annotations

import logging
from pathlib import Path

from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from peewee import Database

import pitwall
from pitwall.api import (
    auth,
    championships,
    club,
    commands,
    events,
    export,
    history,
    info,
    maintenance,
    metrics,
    portal,
    races,
    webui,
)
from pitwall.api.bridge import Bridge
from pitwall.api.database import open_database
from pitwall.api.live import Live
from pitwall.settings import Settings

log = logging.getLogger(__name__)

TOKENS_FILE = "api-tokens.json"


def openapi_config() -> OpenAPIConfig:
    # Only the JSON document: the UI plugins load scripts from the internet, which a
    # race-day hotspot does not have. /schema and /schema/openapi.json both serve it.
    return OpenAPIConfig(
        title="Pitwall", version=pitwall.version(), path="/schema",
        description="Race timing for slot-car tracks. Reads are public; writes need the "
                    "race director: a challenge login (POST /api/auth/challenge and "
                    "/api/auth/verify) and signed requests, or from the box itself a "
                    "token (POST /api/auth/login). See docs/api.md, docs/security.md.",
        render_plugins=[JsonRenderPlugin()],
        components=Components(security_schemes={
            "director": SecurityScheme(type="http", scheme="bearer",
                                       description="from the box itself: a token from POST "
                                                   "/api/auth/login (or the pitwall_director "
                                                   "cookie); elsewhere 'Authorization: "
                                                   "Pitwall-Sig sid=…, ts=…, nonce=…, sig=…' "
                                                   "(docs/security.md)")}),
    )


async def log_unexpected(exception: Exception, scope) -> None:
    """Log every error that becomes a 500: Litestar answers it, but with our logging
    configuration (logging_config=None) it would not say a word about it."""
    if not isinstance(exception, HTTPException) or exception.status_code >= 500:
        log.error("%s %s failed", scope.get("method", "WS"), scope.get("path"),
                  exc_info=exception)


def create_app(settings: Settings, *, bridge: Bridge | None = None,
               db: Database | None = None) -> Litestar:
    bridge = bridge or Bridge(settings)
    live = Live(bridge)
    captive_portal = portal.Portal(settings)
    db = db or open_database(settings)
    tokens = Path(settings.data_dir) / TOKENS_FILE
    try:  # on PostgreSQL nothing else has made the data folder the logins are kept in
        tokens.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("cannot make %s (%s): logins last only as long as this process",
                    tokens.parent, exc)
    director = auth.Auth(settings.director_pin, settings.api.token_ttl_s, tokens,
                         local_clients=settings.api.local_clients)
    if not director.enabled:
        log.warning("no director PIN is set (director_pin): nobody can log in to make "
                    "changes")

    metrics_middleware, metrics_routes = metrics.setup(settings, bridge, live)

    def start_bridge() -> None:
        bridge.start()  # waits (briefly) for the broker, so the first reads are live

    def stop_bridge() -> None:
        bridge.stop()

    handlers = [*info.route_handlers, *auth.route_handlers, *races.route_handlers,
                *commands.route_handlers, *club.route_handlers,
                *events.route_handlers, *championships.route_handlers,
                *history.route_handlers, *maintenance.route_handlers,
                *export.route_handlers, *metrics_routes,
                *live.route_handlers, *portal.route_handlers]
    auth.document_responses(handlers)  # the guard's 401s, in the OpenAPI document
    return Litestar(
        route_handlers=[*handlers, webui.router(settings)],
        # Pages asked for under a foreign host name (a captive phone) go to the portal.
        middleware=[webui.UnsafePathMiddleware,
                    portal.ForeignHostMiddleware(captive_portal), *metrics_middleware],
        guards=[auth.writes_need_director],
        state=State({"settings": settings, "bridge": bridge, "db": db, "auth": director,
                     "live": live, "portal": captive_portal}),
        on_startup=[start_bridge, live.startup],
        on_shutdown=[live.shutdown, stop_bridge],
        after_exception=[log_unexpected],
        openapi_config=openapi_config(),
        logging_config=None,  # keep pitwall's logging (one format in every log file)
    )
