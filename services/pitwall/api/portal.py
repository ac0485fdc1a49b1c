"""The captive portal: phones joining the race Wi-Fi open the lap board on their own.

Every phone checks for a captive portal when it joins a network, by fetching a known URL
and comparing the answer with what a working internet connection gives. On the hotspot
every name resolves to the Pi (dnsmasq) and stray HTTP is redirected here (nftables), so
these probes arrive whatever Host they name. Per client (by IP, and MAC from the lease
file: portal_clients.py):

- before the phone's user taps "Go to the lap board" on ``/portal.html``: a 302 redirect
  to the portal page on the board's own address, so the OS opens its portal sheet there
  (Apple too: see docs/captive-portal.md for why a redirect rather than a page);
- afterwards: exactly what each OS expects from a working network (204, Apple's
  "Success" page, "Microsoft Connect Test", Firefox's canonical page), so the phone
  keeps the connection.

Also here: the RFC 8908 API (``/api/captive``, named in DHCP option 114), the public
tap-through ``POST /api/portal/accept``, and a middleware that sends any page asked for
under a foreign host name (a phone opening http://example.com/) to the portal page.
"""

from __future__ import annotations

import html
import ipaddress
import logging
import re
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import anyio.to_thread
import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.middleware import ASGIMiddleware
from litestar.response import Redirect
from litestar.types import ASGIApp, Receive, Scope, Send

from pitwall.api.portal_clients import Leases, PortalClients
from pitwall.settings import Settings

log = logging.getLogger(__name__)

CLIENTS_FILE = "portal-clients.json"
PORTAL_PAGE = "portal.html"
CAPTIVE_JSON = "application/captive+json"
NO_STORE = {"Cache-Control": "no-cache, no-store, must-revalidate"}

# What each OS expects from a working network, byte for byte.
APPLE_SUCCESS = b"<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"
# Firefox compares the whole body with its captivedetect.canonicalContent preference.
FIREFOX_CANONICAL = (b'<meta http-equiv="refresh" '
                     b'content="0;url=https://support.mozilla.org/kb/captive-portal"/>')


class Online(msgspec.Struct, frozen=True):
    status: int
    body: bytes
    media_type: str


ANDROID = Online(204, b"", "text/plain")
APPLE = Online(200, APPLE_SUCCESS, "text/html")
PROBES: dict[str, Online] = {
    "/generate_204": ANDROID,  # connectivitycheck.gstatic.com, clients3.google.com, …
    "/gen_204": ANDROID,  # www.google.com
    "/hotspot-detect.html": APPLE,  # captive.apple.com
    "/library/test/success.html": APPLE,  # www.apple.com and Apple's other probe hosts
    "/connecttest.txt": Online(200, b"Microsoft Connect Test", "text/plain"),  # Windows 10+
    "/ncsi.txt": Online(200, b"Microsoft NCSI", "text/plain"),  # older Windows
    "/canonical.html": Online(200, FIREFOX_CANONICAL, "text/html"),  # Firefox
    "/success.txt": Online(200, b"success\n", "text/plain"),  # Firefox (IPv4/IPv6 check)
}
# Hosts whose every path is a probe (iOS has asked captive.apple.com for other paths).
PROBE_HOSTS = {"captive.apple.com": APPLE}


class Answer(msgspec.Struct, frozen=True):
    status: int
    media_type: str
    body: bytes
    location: str | None = None

    def headers(self) -> dict[str, str]:
        # Never cached: the same URL flips from portal to online when the user taps.
        extra = {"location": self.location} if self.location else {}
        return {**extra, **NO_STORE}


def redirect(url: str) -> Answer:
    """302 to ``url``; the body is a link for anything that does not follow redirects."""
    link = html.escape(url)
    return Answer(302, "text/html",
                  f'<a href="{link}">Pitwall lap board: {link}</a>\n'.encode(), location=url)


class CaptiveState(msgspec.Struct, rename="kebab"):
    """RFC 8908 captive portal API state."""

    captive: bool
    user_portal_url: str
    venue_info_url: str
    can_extend_session: bool = False
    # Only when online: seconds until this phone sees the portal again.
    seconds_remaining: int | msgspec.UnsetType = msgspec.UNSET


# ---------------------------------------------------------------- who and where
def client_ip(scope: Scope) -> str:
    """The TCP peer. X-Forwarded-For is never trusted: on the hotspot nothing stands in
    front of the API, and a phone could otherwise claim another phone's identity."""
    client = scope.get("client")
    return str(client[0]) if client else "?"


_HOST = re.compile(r"^(\[[0-9a-f:.]+\]|[a-z0-9._-]+|[0-9a-f:]+)(:[0-9]{1,5})?$")


def _host_of(scope: Scope) -> str:
    """The Host header's name, without port, lower case; "" when absent, "?" when it is
    not a host name at all (then it is nobody's own name, and never echoed back)."""
    for key, value in scope.get("headers", ()):
        if key == b"host":
            host = value.decode("latin-1").strip().lower()
            if not host:
                return ""
            match = _HOST.match(host)
            if not match:
                return "?"
            name = match.group(1)
            return name[1:-1] if name.startswith("[") else name
    return ""


class Board:
    """The board's address as phones should open it, and which host names are its own."""

    def __init__(self, settings: Settings) -> None:
        self.public_url = settings.api.public_url.strip()
        if self.public_url and not self.public_url.endswith("/"):
            self.public_url += "/"
        # The name dnsmasq gives the board on the hotspot (any name resolves to the Pi
        # there, and nftables maps port 80 to the API).
        self.board_host = settings.hotspot.board_host.lower()
        name = socket.gethostname().lower()
        self.own_names = {"localhost", name, f"{name}.local", self.board_host}
        if self.public_url:
            self.own_names.add((urlsplit(self.public_url).hostname or "").lower())

    def is_own_host(self, scope: Scope) -> bool:
        host = _host_of(scope)
        if not host or host in self.own_names or host.endswith(".localhost"):
            return True
        server = scope.get("server")
        if server and host == str(server[0]).lower():  # the address the request came to
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def url(self, scope: Scope) -> str:
        """``http://board/`` for this request: public_url, else the Host the phone used
        if it is ours, else the hotspot's board name, else the address the connection
        came in on."""
        if self.public_url:
            return self.public_url
        headers = dict(scope.get("headers", ()))
        if self.is_own_host(scope) and headers.get(b"host"):
            return f"http://{headers[b'host'].decode('latin-1')}/"
        if self.board_host:
            return f"http://{self.board_host}/"
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"[{server[0]}]" if ":" in str(server[0]) else str(server[0])
        port = "" if server[1] in (80, None) else f":{server[1]}"
        return f"http://{host}{port}/"

    def portal_url(self, scope: Scope) -> str:
        return self.url(scope) + PORTAL_PAGE


# ---------------------------------------------------------------- probes
class Portal:
    """The per-client answers, shared by the probe routes, the middleware and the API."""

    def __init__(self, settings: Settings, clients: PortalClients | None = None) -> None:
        self.board = Board(settings)
        self.clients = clients or PortalClients(
            Path(settings.data_dir) / CLIENTS_FILE, Leases(settings.hotspot.leases_file),
            settings.hotspot.portal_ttl_s)

    def captive(self, scope: Scope) -> bool:
        return self.clients.accepted_until(client_ip(scope)) is None

    def probe(self, scope: Scope, online: Online) -> Answer:
        """The answer to a connectivity probe from this client."""
        if self.captive(scope):
            return redirect(self.board.portal_url(scope))
        return Answer(online.status, online.media_type, online.body)

    def stray(self, scope: Scope) -> Answer:
        """A page under a foreign host name: to the portal page, or the board once online."""
        online = PROBE_HOSTS.get(_host_of(scope))
        if online is not None:
            return self.probe(scope, online)
        return redirect(self.board.portal_url(scope) if self.captive(scope)
                        else self.board.url(scope))

    def state(self, scope: Scope) -> CaptiveState:
        until = self.clients.accepted_until(client_ip(scope))
        remaining = msgspec.UNSET if until is None else max(0, int(until - time.time()))
        return CaptiveState(captive=until is None,
                            user_portal_url=self.board.portal_url(scope),
                            venue_info_url=self.board.url(scope), seconds_remaining=remaining)


def _probe_handler(path: str, online: Online):
    async def handler(request: Request, state: State) -> Response[bytes]:
        answer = state.portal.probe(request.scope, online)
        return Response(answer.body, status_code=answer.status, media_type=answer.media_type,
                        headers=answer.headers())

    name = "probe" + path.replace("/", "_").replace(".", "_").replace("-", "_")
    handler.__name__ = name
    return get(path, include_in_schema=False, name=name)(handler)


probe_handlers = [_probe_handler(path, online) for path, online in PROBES.items()]


class ForeignHostMiddleware(ASGIMiddleware):
    """A page asked for under a host name that is not the board's (http://example.com/
    on a phone with no internet) goes to the portal page, or to the board once the phone
    has tapped through. The API (``/api/…``) and the probe paths answer any host."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    async def handle(self, scope: Scope, receive: Receive, send: Send,
                     next_app: ASGIApp) -> None:
        path = scope.get("path", "")
        if (scope["type"] != "http" or path.startswith("/api/") or path in PROBES
                or self.portal.board.is_own_host(scope)):
            await next_app(scope, receive, send)
            return
        answer = self.portal.stray(scope)
        # Litestar's Response adds the charset to text types; say the same here.
        headers = {**answer.headers(), "content-type": answer.media_type + "; charset=utf-8",
                   "content-length": str(len(answer.body))}
        await send({"type": "http.response.start", "status": answer.status,
                    "headers": [(k.encode(), v.encode("latin-1", "replace"))
                                for k, v in headers.items()]})
        await send({"type": "http.response.body", "body": answer.body})


# ---------------------------------------------------------------- RFC 8908 and tap-through
@get("/api/captive", operation_id="captivePortalState",
     summary="RFC 8908 captive portal API: is this phone still captive?",
     media_type=CAPTIVE_JSON, tags=["portal"])
async def captive_api(request: Request, state: State) -> Response[CaptiveState]:
    # private: the answer is per client, so no shared cache may keep it (RFC 8908, 5).
    return Response(state.portal.state(request.scope), media_type=CAPTIVE_JSON,
                    headers={"Cache-Control": "private"})


@post("/api/portal/accept", operation_id="acceptPortal",
      summary="Tap through the captive portal: this phone is online from now on",
      # Public on purpose: the phone on the hotspot is not the race director, and this
      # changes only its own portal answer (by its own IP/MAC), so it opts out of the
      # app's director guard (auth.writes_need_director).
      opt={"public_write": True},
      # The portal page posts an empty form; nothing bigger is ever read.
      request_max_body_size=1024,
      status_code=200, tags=["portal"])
async def accept(request: Request, state: State) -> Response:
    await request.body()  # enforces request_max_body_size (413), though nothing is used
    ip = client_ip(request.scope)
    await anyio.to_thread.run_sync(state.portal.clients.accept, ip)  # writes a file
    log.info("captive portal: %s tapped through", ip)
    accept_header = request.headers.get("accept", "")
    if "text/html" in accept_header and "json" not in accept_header:
        # The portal page's form without JavaScript: back to the page, now online.
        return Redirect("/" + PORTAL_PAGE + "?online=1", status_code=303, headers=NO_STORE)
    return Response(state.portal.state(request.scope), media_type=CAPTIVE_JSON,
                    headers={"Cache-Control": "private"})


route_handlers = [*probe_handlers, captive_api, accept]
