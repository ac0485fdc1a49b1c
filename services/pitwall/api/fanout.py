"""One item to many clients, each with its own bounded backlog: the live push's fan-out.

The live push is the API's hottest path: every lap goes to every connected browser, so
what it costs per client and frame bounds how many spectators a box (or a replica) can
serve in time. Litestar channels did the job with an asyncio queue, a worker hand-off
and an async generator per client and frame; here a frame costs one ``deque.append`` per
client, and waking a client that was idle. A client's sender takes everything queued at
once (``take``), so a client that fell behind catches up in one go.

A full backlog drops its oldest items (the next state frame brings the client back in
step), so a client that does not read never holds up the others and never grows the
API's memory past ``size`` items.

Single-threaded: call everything on the event loop.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Backlog(Generic[T]):
    """One client's queue of items not yet sent."""

    __slots__ = ("_items", "_waiter", "busy_since")

    def __init__(self, size: int) -> None:
        self._items: deque[T] = deque(maxlen=size)
        self._waiter: asyncio.Future | None = None
        # time.monotonic() when the client's sender began its current send, 0.0 while it
        # waits for items: how a watchdog tells a client that stopped reading.
        self.busy_since = 0.0

    def put(self, item: T, wake: bool = True) -> None:
        """Queue ``item``; ``wake=False``: leave the sender asleep until ``wake()``."""
        self._items.append(item)  # at maxlen this drops the oldest
        if wake:
            self.wake()

    def wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def take(self) -> list[T]:
        """Every item queued, oldest first; waits while there is none."""
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        items = list(self._items)
        self._items.clear()
        return items

    @property
    def qsize(self) -> int:
        return len(self._items)


class FanOut(Generic[T]):
    """>>> out = FanOut(size=200)
    >>> backlog = out.subscribe()
    >>> out.publish("frame"); backlog.qsize
    1
    >>> out.unsubscribe(backlog); len(out)
    0
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._backlogs: set[Backlog[T]] = set()

    def subscribe(self) -> Backlog[T]:
        backlog: Backlog[T] = Backlog(self.size)
        self._backlogs.add(backlog)
        return backlog

    def unsubscribe(self, backlog: Backlog[T]) -> None:
        self._backlogs.discard(backlog)

    def publish(self, item: T, wake: bool = True) -> None:
        """``item`` to every backlog; ``wake=False`` holds it back (with whatever follows)
        until ``wake()``, so that frames that belong together go out together."""
        for backlog in self._backlogs:
            backlog.put(item, wake)

    def wake(self) -> None:
        for backlog in self._backlogs:
            if backlog.qsize:
                backlog.wake()

    def __iter__(self) -> Iterator[Backlog[T]]:
        return iter(list(self._backlogs))

    def __len__(self) -> int:
        return len(self._backlogs)
