"""Live push to browsers: WebSocket ``/api/live`` and its SSE fallback ``/api/live/events``.

One MQTT subscription (the Bridge) feeds every browser through a FanOut (api/fanout.py):
a bounded backlog per client. paho calls the bridge listener on its own thread, so the
listener only hands the message to the event loop with ``loop.call_soon_threadsafe``.
There each message is encoded once, as a WebSocket send event and as an SSE event, and
put in every client's backlog of its transport.

A new client subscribes first, then gets the current state, lights and status frames,
then every change, so nothing falls between the snapshot and the stream (at worst a state
frame arrives twice; state frames are whole snapshots). A client that does not keep up
loses its oldest frames (the next state frame brings it back in step), and a WebSocket
that takes no frame for ``SEND_TIMEOUT_S`` is closed by a watchdog. A slow client never
holds up the others.

Every frame carries ``now_ns``, the API's CLOCK_MONOTONIC when it was sent out (the same
clock as the sensors), so a browser can map the Pi's clock onto its own.
See docs/live.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator

import msgspec
from litestar import WebSocket, get, websocket
from litestar.response import Stream

from pitwall import contract
from pitwall.api.bridge import Bridge
from pitwall.api.fanout import Backlog, FanOut

log = logging.getLogger(__name__)

MAX_BACKLOG = 200  # frames queued per client before its oldest are dropped
SEND_TIMEOUT_S = 10.0  # a WebSocket that takes no frame for this long is closed
KEEPALIVE_S = 15.0  # SSE comment, so proxies and the iOS portal sheet keep the stream open
# The lap service publishes a lap's state right after it (within a millisecond or so): a
# lap waits at most this long for it, so that both go to each client in one message.
LAP_HOLD_S = 0.003
SNAPSHOT = ("state", "lights", "status")  # what a new client gets first, in this order
KEEPALIVE = b": keep-alive\n\n"


class Frame(msgspec.Struct):
    type: str
    now_ns: int
    data: msgspec.Raw  # the contract payload as received, never re-encoded


_encoder = msgspec.json.Encoder()


def frame(kind: str, payload: bytes, now_ns: int) -> bytes:
    return _encoder.encode(Frame(kind, now_ns, msgspec.Raw(payload)))


def ws_event(frame_json: bytes) -> dict:
    """The ASGI message that sends a frame: built once, sent to every client as it is."""
    return {"type": "websocket.send", "text": frame_json.decode(), "bytes": None}


def batch_event(events: list[dict]) -> dict:
    """Several frames' send events as one: a JSON array of the frames, oldest first."""
    return {"type": "websocket.send", "bytes": None,
            "text": "[" + ",".join(event["text"] for event in events) + "]"}


def sse_event(kind: str, frame_json: bytes) -> bytes:
    # Contract payloads are compact JSON (no line breaks), so one data line holds a frame.
    return b"event: " + kind.encode() + b"\ndata: " + frame_json + b"\n\n"


def idle_state(now_ns: int) -> bytes:
    """What a client sees before the lap service has ever published a state."""
    return contract.encode(contract.RaceState(race_id=None, phase="idle", now_ns=now_ns))


def dark_lights(now_ns: int) -> bytes:
    return contract.encode(
        contract.LightsState(reds=0, green=False, flag="none", power=False, now_ns=now_ns))


class Live:
    """>>> live = Live(bridge)                                            # doctest: +SKIP
    >>> Litestar(route_handlers=live.route_handlers,
    ...          on_startup=[live.startup], on_shutdown=[live.shutdown])  # doctest: +SKIP
    """

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.websockets: FanOut[dict] = FanOut(MAX_BACKLOG)  # ASGI send events
        self.sse: FanOut[bytes] = FanOut(MAX_BACKLOG)  # SSE events
        self.send_timeout_s = SEND_TIMEOUT_S
        self.lap_hold_s = LAP_HOLD_S
        self._hold: asyncio.TimerHandle | None = None  # laps queued, senders not woken
        self._senders: dict[Backlog, asyncio.Task] = {}  # WebSocket backlog -> its sender
        self._stalled: set[Backlog] = set()  # closed by the watchdog: not reading
        self.route_handlers: list = [
            websocket("/api/live")(self._websocket),
            get("/api/live/events",
                summary="Live frames as Server-Sent Events (fallback for WebSocket)")(
                self._events),
        ]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._latest: dict[str, bytes | None] = dict.fromkeys(SNAPSHOT)
        self._background: list[asyncio.Task] = []
        self.clients = {"websocket": 0, "sse": 0}  # connected now (for /metrics)

    # ------------------------------------------------------------------ lifecycle
    async def startup(self, app=None) -> None:
        self._loop = asyncio.get_running_loop()
        self.bridge.add_listener(self._from_paho)
        # Seed after registering: a change in between is then both seen and queued.
        self._latest.update(state=self.bridge.state(), lights=self.bridge.lights(),
                            status=self.bridge.status())
        self._background = [asyncio.create_task(self._keep_alive()),
                            asyncio.create_task(self._watchdog())]

    async def shutdown(self, app=None) -> None:
        self.bridge.remove_listener(self._from_paho)
        self._loop = None
        if self._hold is not None:
            self._hold.cancel()
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ------------------------------------------------------------------ fan-out
    def _from_paho(self, kind: str, payload: bytes) -> None:
        """Bridge listener, on paho's thread: hand over to the event loop, nothing else."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # loop closed during shutdown
                loop.call_soon_threadsafe(self._fan_out, kind, payload)

    def _fan_out(self, kind: str, payload: bytes) -> None:
        """On the event loop: encode once, publish to every client of both transports."""
        if kind in self._latest:
            self._latest[kind] = payload
        data = frame(kind, payload, time.monotonic_ns())
        # A lap is held back (at most lap_hold_s) for the state that follows it; any
        # other frame goes out at once, with the laps queued before it.
        hold = kind == "lap"
        self.websockets.publish(ws_event(data), wake=not hold)
        self.sse.publish(sse_event(kind, data), wake=not hold)
        if hold and self._hold is None and self._loop is not None:
            self._hold = self._loop.call_later(self.lap_hold_s, self._wake)
        elif not hold and self._hold is not None:
            self._hold.cancel()
            self._hold = None

    def _wake(self) -> None:
        """The hold is over and no state came: send the laps on their own."""
        self._hold = None
        self.websockets.wake()
        self.sse.wake()

    def snapshot(self) -> list[tuple[str, bytes]]:
        """(kind, frame) for a new client: state, lights, status, stamped now."""
        now = time.monotonic_ns()
        payloads = {
            "state": self._latest["state"] or idle_state(now),
            "lights": self._latest["lights"] or dark_lights(now),
            "status": self._latest["status"] or self.bridge.status(),
        }
        return [(kind, frame(kind, payloads[kind], now)) for kind in SNAPSHOT]

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_S)
            self.sse.publish(KEEPALIVE)

    async def _watchdog(self) -> None:
        """Close WebSockets whose send has been stuck for ``send_timeout_s``: the client
        stopped reading (its socket buffers are full). One sweep a second (or faster for
        short timeouts in tests) instead of a timer per frame and client."""
        while True:
            await asyncio.sleep(min(1.0, self.send_timeout_s / 4))
            since = time.monotonic() - self.send_timeout_s
            for backlog, sender in list(self._senders.items()):
                if 0.0 < backlog.busy_since < since:
                    self._stalled.add(backlog)
                    sender.cancel()

    # ------------------------------------------------------------------ handlers
    async def _websocket(self, socket: WebSocket) -> None:
        """Live frames as JSON text messages; the client sends nothing. With ``?batch=1``
        a message is one frame or, when several were ready at once, an array of them in
        order (docs/live.md)."""
        await socket.accept()
        self.clients["websocket"] += 1
        try:
            await self._serve_websocket(socket)
        finally:
            self.clients["websocket"] -= 1

    async def _serve_websocket(self, socket: WebSocket) -> None:
        backlog = self.websockets.subscribe()
        sender = asyncio.create_task(self._send_frames(socket, backlog))
        self._senders[backlog] = sender
        try:
            # Reading is how a closed connection is noticed; anything the client sends is
            # ignored.
            reader = asyncio.create_task(_until_disconnect(socket))
            done, pending = await asyncio.wait({sender, reader},
                                               return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if backlog in self._stalled:
                log.info("live client %s not reading for %.0f s: closed", _peer(socket),
                         self.send_timeout_s)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(socket.close(code=1008, reason="not reading"),
                                           1.0)
        finally:
            self.websockets.unsubscribe(backlog)
            self._senders.pop(backlog, None)
            self._stalled.discard(backlog)

    async def _send_frames(self, socket: WebSocket, backlog: Backlog[dict]) -> None:
        send = socket.send  # ASGI send: the event dicts are shared by every client
        # ?batch=1: the client takes an array of frames as one message, so whatever is
        # queued goes in one send (a lap and the state after it: half the messages and
        # syscalls, here and in every proxy and browser on the way).
        batch = socket.query_params.get("batch") == "1"
        events = [ws_event(data) for _, data in self.snapshot()]
        while True:
            if batch and len(events) > 1:
                events = [batch_event(events)]
            for event in events:
                backlog.busy_since = time.monotonic()
                await send(event)
            backlog.busy_since = 0.0
            events = await backlog.take()

    async def _events(self) -> Stream:
        """The same frames as ``event: <type>`` / ``data: <frame JSON>``, keep-alive
        comments every 15 s. For browsers where WebSockets fail (iOS portal sheet)."""
        return Stream(self._event_stream(), media_type="text/event-stream",
                      headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def _event_stream(self) -> AsyncGenerator[bytes, None]:
        backlog = self.sse.subscribe()
        self.clients["sse"] += 1
        try:
            yield b"".join(sse_event(kind, data) for kind, data in self.snapshot())
            while True:
                yield b"".join(await backlog.take())  # what queued up, in one write
        finally:
            self.clients["sse"] -= 1
            self.sse.unsubscribe(backlog)


async def _until_disconnect(socket: WebSocket) -> None:
    while (await socket.receive())["type"] != "websocket.disconnect":
        pass


def _peer(socket: WebSocket) -> str:
    client = socket.client
    return f"{client.host}:{client.port}" if client else "?"
