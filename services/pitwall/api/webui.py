"""The web app (``webui/``): static files served at ``/``.

In development the folder is the source tree's ``webui/``; the Pi image installs it
elsewhere and names it in ``api.webui_dir``. Without it the API still serves the REST
and live endpoints, and ``/`` says what is missing.
"""

from __future__ import annotations

import logging
from pathlib import Path

from litestar import Response, Router, get
from litestar.static_files import create_static_files_router

from pitwall.settings import Settings

log = logging.getLogger(__name__)

# services/pitwall/api/webui.py -> the repository root's webui/
SOURCE_TREE_WEBUI = Path(__file__).resolve().parents[3] / "webui"


class UnsafePathMiddleware:
    """A path with a NUL byte (``/index.html%00.js``) names no file: answer 404 before the
    static files, where the operating system's ValueError would be a 500."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and "\x00" in scope.get("path", ""):
            body = b'{"status_code":404,"detail":"Not Found"}'
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def webui_dir(settings: Settings) -> Path:
    return Path(settings.api.webui_dir) if settings.api.webui_dir else SOURCE_TREE_WEBUI


def router(settings: Settings) -> Router:
    folder = webui_dir(settings)
    if folder.is_dir():
        return create_static_files_router(path="/", directories=[folder], html_mode=True,
                                          name="webui")
    log.warning("web app folder %s not found: / will say so (set api.webui_dir)", folder)

    @get("/", include_in_schema=False, media_type="text/plain")
    async def missing() -> Response[str]:
        return Response(
            f"Pitwall's API is running, but the web app is not installed here: "
            f"{folder} does not exist. Set api.webui_dir (PITWALL_API_WEBUI_DIR) to the "
            f"web app's folder. The API itself is at /api and documented at /schema.\n",
            media_type="text/plain", status_code=503)

    return Router(path="/", route_handlers=[missing])
