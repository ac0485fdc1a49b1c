"""What a board needs to introduce itself: health, the track, how to join the Wi-Fi."""

from __future__ import annotations

import io
from typing import Literal

import msgspec
import segno.helpers
from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.openapi import ResponseSpec

from pitwall import version
from pitwall.settings import Settings

QR_PATH = "/api/wifi/qr.svg"



class Health(msgspec.Struct):
    ok: bool
    laps_online: bool
    mqtt: bool


class Wifi(msgspec.Struct):
    ssid: str
    qr_svg: str


class Info(msgspec.Struct, kw_only=True):
    version: str
    track_name: str
    lanes: list[int]
    wifi: Wifi | None
    board_url: str
    director_pin_set: bool
    # How a set-up keys entrants when it does not say: what the track's sensors report.
    entrant_default: Literal["car", "lane"]
    # pitwall up's simulated director is running races (it yields to a real director).
    demo_director: bool


class Seen(msgspec.Struct, kw_only=True):
    suggested: Literal["car", "lane"] | None  # car IDs seen: a digital track
    cars: list[int]  # seen crossing in the last ten minutes
    lanes: list[int]


@get("/api/health", operation_id="health", summary="Is the API up, and can it hear the "
     "lap service?", tags=["info"])
async def health(state: State) -> Health:
    bridge = state.bridge
    mqtt = bridge.connected  # a lap service we cannot hear counts as offline
    return Health(ok=True, laps_online=mqtt and bridge.laps_online(), mqtt=mqtt)


@get("/api/ready", operation_id="ready", summary="Can this API serve live clients now? "
     "(for a load balancer's health check)", tags=["info"],
     responses={503: ResponseSpec(Health, description="Not connected to the broker, or "
                                  "the race state has not arrived yet")})
async def ready(state: State) -> Response[Health]:
    """200 once this API hears the broker and holds the retained race state, so a client
    sent here gets the state at once; 503 otherwise (a replica behind HAProxy is then
    taken out of rotation until it is back)."""
    bridge = state.bridge
    mqtt = bridge.connected
    ok = mqtt and bridge.state() is not None
    return Response(Health(ok=ok, laps_online=mqtt and bridge.laps_online(), mqtt=mqtt),
                    status_code=200 if ok else 503)


@get("/api/info", operation_id="info", summary="Track name, lanes, Wi-Fi and the board's "
     "address", tags=["info"])
async def info(state: State, request: Request) -> Info:
    settings: Settings = state.settings
    ssid = settings.wifi.ssid
    return Info(
        version=version(), track_name=settings.track_name, lanes=settings.lane_numbers,
        wifi=Wifi(ssid=ssid, qr_svg=QR_PATH) if ssid else None,
        board_url=settings.api.public_url or str(request.base_url).rstrip("/") + "/",
        director_pin_set=bool(settings.director_pin),
        entrant_default=settings.entrant_default, demo_director=state.bridge.demo_director)


@get("/api/track/seen", operation_id="trackSeen",
     summary="Cars and lanes seen crossing lately (to offer them as entrants)", tags=["info"])
async def track_seen(state: State) -> Seen:
    pit = {lane.lane for lane in state.settings.pit_lanes}
    cars, lanes = state.bridge.seen()
    lanes = [n for n in lanes if n not in pit]
    return Seen(suggested="car" if cars else "lane" if lanes else None, cars=cars,
                lanes=lanes)


def join_wifi_qr(ssid: str, passphrase: str) -> segno.QRCode:
    """The standard join-this-network QR code (``WIFI:T:WPA;S:…;P:…;;``, escaped by segno)."""
    return segno.helpers.make_wifi(ssid=ssid, password=passphrase or None,
                                   security="WPA" if passphrase else "nopass")


def wifi_qr_svg(ssid: str, passphrase: str) -> bytes:
    out = io.BytesIO()
    join_wifi_qr(ssid, passphrase).save(out, kind="svg", scale=8, border=2,
                                   title=f"Join Wi-Fi {ssid}")
    return out.getvalue()


def terminal_qr(qr: segno.QRCode) -> str:
    """``qr`` drawn with block characters, for a terminal (two modules per line)."""
    out = io.StringIO()
    qr.terminal(out=out, compact=True, border=1)
    return out.getvalue().rstrip("\n")


@get(QR_PATH, operation_id="wifiQr", summary="QR code to join the race Wi-Fi (SVG)",
     media_type="image/svg+xml", tags=["info"])
async def wifi_qr(state: State) -> Response[bytes]:
    wifi = state.settings.wifi
    if not wifi.ssid:
        raise NotFoundException("no Wi-Fi is configured (settings [wifi] ssid)")
    return Response(wifi_qr_svg(wifi.ssid, wifi.passphrase), media_type="image/svg+xml",
                    headers={"Cache-Control": "no-cache"})


route_handlers = [health, ready, info, track_seen, wifi_qr]
