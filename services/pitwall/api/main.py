"""``pitwall api``: the web server (Litestar on uvicorn) for phones, the TV and tools."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from pitwall.api.app import create_app
from pitwall.settings import Settings

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="bind address (default: api.host)")
    parser.add_argument("--port", type=int, help="port (default: api.port)")


def server_config(app, settings: Settings, **options) -> uvicorn.Config:
    """uvicorn's configuration for the API. X-Forwarded-For (and -Proto) is believed only
    from ``api.trusted_proxies``: uvicorn's default trusts it from loopback, which would
    let anyone claim any address (the login lockout counts by address)."""
    proxies = list(settings.api.trusted_proxies)
    return uvicorn.Config(app, proxy_headers=bool(proxies),
                          forwarded_allow_ips=proxies or None,
                          ws_per_message_deflate=settings.api.live_deflate, **options)


def run(settings: Settings, args: argparse.Namespace) -> int:
    host = args.host or settings.api.host
    port = args.port or settings.api.port
    app = create_app(settings)
    config = server_config(
        app, settings, host=host, port=port,
        log_config=None,  # keep pitwall's logging set-up
        access_log=False,  # one line per request would wear the SD card on race day
        timeout_graceful_shutdown=3,  # live clients would otherwise hold a stop for ever
        ws_ping_interval=20, ws_ping_timeout=20,
    )
    log.info("serving on http://%s:%d/", host, port)
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1
