"""A local Apex Timing server for the tests: plays an ``ApexSession`` over a real WebSocket
(the ``websockets`` library), as the track's server would.

Like the real one, it keeps its own clock: the session plays on whether or not anyone
listens, every client that connects first gets the whole snapshot, then each batch as it
happens. ``drop_at_ms`` cuts every connection once (abruptly, no close frame) when the
session reaches that time; what happens until the adapter is back is sent to nobody.
"""

from __future__ import annotations

import asyncio
import threading
import time

from websockets.asyncio.server import serve

from pitwall.dev.broker import free_port

from .apex_session import ApexSession

_DROP = object()  # cut the connection
_END = object()  # the test is over: close it


class ApexServer:
    def __init__(self, session: ApexSession, speed: float, drop_at_ms: int | None = None,
                 lead_s: float = 0.3) -> None:
        self.session = session
        self.state = session.play()
        self.speed = speed
        self.drop_at_ms = drop_at_ms
        self.lead_s = lead_s
        self.port = free_port()
        self.uri = f"ws://127.0.0.1:{self.port}/"
        self.connections = 0
        self.unsent: list[int] = []  # times of the batches sent to nobody (while dropped)
        self.finished = threading.Event()
        self._clients: set[asyncio.Queue] = set()
        self._player: asyncio.Task | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> ApexServer:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(5)
        return self

    def __exit__(self, *exc) -> None:
        async def stop():
            if self._player:
                self._player.cancel()
            for queue in self._clients:
                queue.put_nowait(_END)
            self._server.close()
            await self._server.wait_closed()
        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _serve(self):
        return await serve(self._handler, "127.0.0.1", self.port, max_size=None)

    async def _handler(self, ws) -> None:
        self.connections += 1
        queue: asyncio.Queue = asyncio.Queue()
        queue.put_nowait(self.state.snapshot())  # and from now on, every batch
        self._clients.add(queue)
        if self._player is None:
            self._player = asyncio.create_task(self._play())
        try:
            while True:
                item = await queue.get()
                if item is _DROP:
                    ws.transport.abort()  # a dead connection, not a polite close
                    return
                if item is _END:
                    return
                await ws.send(item)
        finally:
            self._clients.discard(queue)

    async def _play(self) -> None:
        await asyncio.sleep(self.lead_s)
        began = time.monotonic()
        dropped = False
        while not self.state.done:
            t = self.session.frames[self.state.position][0]
            due = began + t / 1000 / self.speed
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            if self.drop_at_ms is not None and not dropped and t >= self.drop_at_ms:
                dropped = True
                for queue in list(self._clients):
                    queue.put_nowait(_DROP)
                self._clients.clear()
            _, text = self.state.batch()
            if not self._clients:
                self.unsent.append(t)
            for queue in self._clients:
                queue.put_nowait(text)
        self.finished.set()
