"""Replay a raw archive exactly as live: each message goes through the same pipeline with
the receive time it was archived with, paced by those times divided by ``speed``.

The pacing is only for people watching: what the mapper makes of a message depends on
its archived receive time, never on when the replay sends it, so a replay at any speed
publishes the very passes live did (relative to its race's green).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from pitwall.feed.archive import Message
from pitwall.feed.pipeline import FeedPipeline

MAX_WAIT_S = 0.05  # longest single sleep: replies are looked at, Ctrl-C is seen quickly


def replay(messages: Sequence[Message], pipeline: FeedPipeline, speed: float,
           stopping: threading.Event, clock: Callable[[], float] = time.monotonic,
           sleep: Callable[[float], None] = time.sleep) -> int:
    """Send every message at its time; the number sent (fewer if stopped)."""
    if not messages:
        return 0
    t0, began = messages[0].t_ns, clock()
    sent = 0
    for m in messages:
        due = began + (m.t_ns - t0) / 1e9 / speed
        while not stopping.is_set() and (left := due - clock()) > 0:
            pipeline.tick()
            sleep(min(left, MAX_WAIT_S))
        if stopping.is_set():
            break
        pipeline.message(m.t_ns, m.data)
        sent += 1
    return sent


def settle(pipeline: FeedPipeline, stopping: threading.Event, timeout_s: float,
           clock: Callable[[], float] = time.monotonic,
           sleep: Callable[[float], None] = time.sleep) -> bool:
    """Wait until every pass is published (the race has gone green); False on timeout."""
    deadline = clock() + timeout_s
    while not stopping.is_set():
        pipeline.tick()
        if pipeline.link.settled:
            return True
        if clock() >= deadline:
            return False
        sleep(MAX_WAIT_S)
    return pipeline.link.settled
