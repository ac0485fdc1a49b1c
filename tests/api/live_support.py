"""Helpers for the live-push tests: a real uvicorn on a free port, WebSocket and SSE
clients that record frames."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time

import uvicorn
from pitwall.api.main import server_config
from pitwall.dev.broker import free_port


@contextlib.contextmanager
def serve(app, port: int | None = None):
    """Run ``app`` on a real uvicorn in a thread; yield its base URL (``127.0.0.1:port``)."""
    port = port or free_port()
    # The API's own uvicorn configuration (proxy headers as pitwall api has them).
    server = uvicorn.Server(server_config(app, app.state.settings, host="127.0.0.1", port=port,
                                          log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def frames_until(frames: list[dict], predicate, timeout: float = 5.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while not predicate(frames):
        assert time.monotonic() < deadline, f"timed out; frames so far: {frames}"
        time.sleep(0.01)
    return frames


class LiveClients:
    """WebSocket and SSE clients on one asyncio loop in a thread, recording every frame."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.tasks: list = []

    def websocket(self, batch: bool = False, messages: list | None = None) -> list[dict]:
        """Frames from /api/live (``batch``: ``?batch=1``, arrays unpacked); each message
        as received is also appended to ``messages`` if given."""
        import websockets

        frames: list[dict] = []

        async def run():
            url = f"ws://{self.base}/api/live" + ("?batch=1" if batch else "")
            async with websockets.connect(url) as ws:
                async for message in ws:
                    data = json.loads(message)
                    if messages is not None:
                        messages.append(data)
                    frames.extend(data if isinstance(data, list) else [data])

        self.tasks.append(asyncio.run_coroutine_threadsafe(run(), self.loop))
        return frames

    def sse(self) -> list[dict]:
        """Frames from /api/live/events, with the SSE event name kept as ``_event``."""
        import httpx

        frames: list[dict] = []

        async def run():
            async with httpx.AsyncClient(timeout=None) as client, \
                    client.stream("GET", f"http://{self.base}/api/live/events") as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                event = None
                async for line in response.aiter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        frames.append({**json.loads(line[6:]), "_event": event})

        self.tasks.append(asyncio.run_coroutine_threadsafe(run(), self.loop))
        return frames

    def close(self) -> None:
        async def cancel_all():
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel_all(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
