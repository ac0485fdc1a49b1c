"""Live push to browsers: WebSocket ``/api/live`` and its SSE fallback ``/api/live/events``.

One MQTT subscription (the Bridge) feeds every browser through Litestar channels (memory
backend). paho calls the bridge listener on its own thread; channels' ``publish`` is not
thread-safe, so the listener only hands the message to the event loop with
``loop.call_soon_threadsafe``. There each message is encoded once, as a WebSocket frame
and as an SSE event, and published to one channel per transport.

A new client subscribes first, then gets the current state, lights and status frames,
then every change, so nothing falls between the snapshot and the stream (at worst a state
frame arrives twice; state frames are whole snapshots). Each client has its own bounded
backlog: a client that does not keep up loses its oldest frames (the next state frame
brings it back in step), and a WebSocket that takes no frame for ``SEND_TIMEOUT_S`` is
closed. A slow client never holds up the others.

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
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.response import Stream

from pitwall import contract
from pitwall.api.bridge import Bridge

log = logging.getLogger(__name__)

WS_CHANNEL = "live-ws"  # frames as JSON text
SSE_CHANNEL = "live-sse"  # the same frames as SSE events
MAX_BACKLOG = 200  # frames queued per client before its oldest are dropped
SEND_TIMEOUT_S = 10.0  # a WebSocket that takes no frame for this long is closed
KEEPALIVE_S = 15.0  # SSE comment, so proxies and the iOS portal sheet keep the stream open
SNAPSHOT = ("state", "lights", "status")  # what a new client gets first, in this order
KEEPALIVE = b": keep-alive\n\n"


class Frame(msgspec.Struct):
    type: str
    now_ns: int
    data: msgspec.Raw  # the contract payload as received, never re-encoded


_encoder = msgspec.json.Encoder()


def frame(kind: str, payload: bytes, now_ns: int) -> bytes:
    return _encoder.encode(Frame(kind, now_ns, msgspec.Raw(payload)))


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
    >>> Litestar(route_handlers=live.route_handlers, plugins=live.plugins,
    ...          on_startup=[live.startup], on_shutdown=[live.shutdown])  # doctest: +SKIP
    """

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.channels = ChannelsPlugin(
            backend=MemoryChannelsBackend(),
            channels=[WS_CHANNEL, SSE_CHANNEL],
            subscriber_max_backlog=MAX_BACKLOG,
            subscriber_backlog_strategy="dropleft",
        )
        self.plugins: list = [self.channels]
        self.route_handlers: list = [
            websocket("/api/live")(self._websocket),
            get("/api/live/events",
                summary="Live frames as Server-Sent Events (fallback for WebSocket)")(
                self._events),
        ]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._latest: dict[str, bytes | None] = dict.fromkeys(SNAPSHOT)
        self._keepalive: asyncio.Task | None = None
        self.clients = {"websocket": 0, "sse": 0}  # connected now (for /metrics)

    # ------------------------------------------------------------------ lifecycle
    async def startup(self, app=None) -> None:
        self._loop = asyncio.get_running_loop()
        self.bridge.add_listener(self._from_paho)
        # Seed after registering: a change in between is then both seen and queued.
        self._latest.update(state=self.bridge.state(), lights=self.bridge.lights(),
                            status=self.bridge.status())
        self._keepalive = asyncio.create_task(self._keep_alive())

    async def shutdown(self, app=None) -> None:
        self.bridge.remove_listener(self._from_paho)
        self._loop = None
        if self._keepalive:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive

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
        ws = frame(kind, payload, time.monotonic_ns())
        self.channels.publish(ws, WS_CHANNEL)
        self.channels.publish(sse_event(kind, ws), SSE_CHANNEL)

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
            self.channels.publish(KEEPALIVE, SSE_CHANNEL)

    # ------------------------------------------------------------------ handlers
    async def _websocket(self, socket: WebSocket) -> None:
        """Live frames as JSON text messages; the client sends nothing."""
        await socket.accept()
        self.clients["websocket"] += 1
        try:
            await self._serve_websocket(socket)
        finally:
            self.clients["websocket"] -= 1

    async def _serve_websocket(self, socket: WebSocket) -> None:
        async with self.channels.start_subscription(WS_CHANNEL) as subscriber:
            sender = asyncio.create_task(self._send_frames(socket, subscriber))
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

    async def _send_frames(self, socket: WebSocket, subscriber) -> None:
        try:
            for _, data in self.snapshot():
                async with asyncio.timeout(SEND_TIMEOUT_S):
                    await socket.send_text(data.decode())
            async for data in subscriber.iter_events():
                # asyncio.timeout, not wait_for: no extra task per frame and client.
                async with asyncio.timeout(SEND_TIMEOUT_S):
                    await socket.send_text(data.decode())
        except TimeoutError:
            log.info("live client %s not reading for %.0f s: closed", _peer(socket),
                     SEND_TIMEOUT_S)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(socket.close(code=1008, reason="not reading"), 1.0)

    async def _events(self) -> Stream:
        """The same frames as ``event: <type>`` / ``data: <frame JSON>``, keep-alive
        comments every 15 s. For browsers where WebSockets fail (iOS portal sheet)."""
        return Stream(self._event_stream(), media_type="text/event-stream",
                      headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def _event_stream(self) -> AsyncGenerator[bytes, None]:
        subscriber = await self.channels.subscribe(SSE_CHANNEL)
        self.clients["sse"] += 1
        try:
            yield b"".join(sse_event(kind, data) for kind, data in self.snapshot())
            async for event in subscriber.iter_events():
                yield event
        finally:
            self.clients["sse"] -= 1
            await self.channels.unsubscribe(subscriber)


async def _until_disconnect(socket: WebSocket) -> None:
    while (await socket.receive())["type"] != "websocket.disconnect":
        pass


def _peer(socket: WebSocket) -> str:
    client = socket.client
    return f"{client.host}:{client.port}" if client else "?"
