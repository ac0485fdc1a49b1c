"""The live feed: a WebSocket client that reconnects with back-off and hands every message,
stamped with its receive time, to the pipeline.

On each (re)connection Apex sends its whole snapshot again (``init``, the grid); the
mapper recognises the session and publishes only what is new, so a dropped connection
loses or doubles nothing it can know about (docs/feeds.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import websockets
from websockets.asyncio.client import connect

from pitwall.feed.pipeline import FeedPipeline

log = logging.getLogger(__name__)

MAX_MESSAGE = 16 * 2**20  # a big grid is a few hundred KiB; websockets' default is 1 MiB
TICK_S = 0.05  # how often replies and race state are looked at between messages


class Backoff:
    """Exponential back-off with a cap: ``first``, twice that, … up to ``cap`` seconds;
    ``reset()`` once a connection has delivered something."""

    def __init__(self, first: float = 0.2, cap: float = 30.0, factor: float = 2.0) -> None:
        self.first, self.cap, self.factor = first, cap, factor
        self._next = first

    def next(self) -> float:
        delay = self._next
        self._next = min(self.cap, self._next * self.factor)
        return delay

    def reset(self) -> None:
        self._next = self.first


async def follow(uri: str, pipeline: FeedPipeline, stopping: asyncio.Event,
                 backoff: Backoff | None = None) -> None:
    """Read the feed at ``uri`` until ``stopping`` is set, reconnecting after any failure."""
    backoff = backoff or Backoff()
    ticker = asyncio.create_task(_tick(pipeline, stopping))
    try:
        while not stopping.is_set():
            try:
                async with connect(uri, max_size=MAX_MESSAGE, open_timeout=10,
                                   ping_interval=20, ping_timeout=20, close_timeout=2) as ws:
                    log.info("connected to %s", uri)
                    async for message in ws:
                        pipeline.message(time.monotonic_ns(), message, time.time())
                        backoff.reset()
                log.warning("the feed closed the connection")
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
                log.warning("feed %s: %s", uri, exc or type(exc).__name__)
            delay = backoff.next()
            log.info("reconnecting in %.1f s", delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
    finally:
        ticker.cancel()


async def _tick(pipeline: FeedPipeline, stopping: asyncio.Event) -> None:
    while not stopping.is_set():
        pipeline.tick()
        await asyncio.sleep(TICK_S)
