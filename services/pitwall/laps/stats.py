"""The lap service's counters, published retained on ``laps/stats`` for /metrics.

A batch is one transaction: what it counted is added to the totals only once it is
committed, so a batch rolled back and retried one message at a time is not counted
twice (the retry counts for itself).
"""

from __future__ import annotations

import time
from collections import Counter

from pitwall import contract

PUBLISH_EVERY_NS = 5_000_000_000

FIELDS = tuple(f for f in contract.LapStats.__struct_fields__ if f != "started_at")


class LapCounters:
    def __init__(self) -> None:
        self.started_at = time.time()
        self.totals: Counter[str] = Counter()
        self.batch: Counter[str] = Counter()  # the open transaction's
        self._sent: tuple[int, ...] | None = None
        self._sent_ns = 0

    def begin(self) -> None:
        """A transaction opens: whatever an earlier one counted and did not commit goes."""
        self.batch.clear()

    def count(self, name: str, n: int = 1) -> None:
        self.batch[name] += n

    def retried(self) -> None:
        self.totals["retries"] += 1

    def committed(self, outbox) -> None:
        """The batch is on disk; ``outbox``: what it publishes (laps, replies)."""
        for _, payload in outbox:
            if isinstance(payload, contract.LapEvent):
                self.batch["suspects" if payload.suspect else "laps"] += 1
            elif isinstance(payload, contract.Reply):
                self.batch["commands"] += 1
                self.batch["refused"] += not payload.ok
        self.batch["batches"] += 1
        self.totals.update(self.batch)
        self.batch.clear()

    def payload(self) -> contract.LapStats:
        return contract.LapStats(started_at=self.started_at,
                                 **{name: self.totals[name] for name in FIELDS})

    def due(self, now_ns: int) -> contract.LapStats | None:
        """The counters to publish now, if they changed and the last went out long enough
        ago (or never)."""
        values = tuple(self.totals[name] for name in FIELDS)
        if values == self._sent or (self._sent is not None
                                    and now_ns - self._sent_ns < PUBLISH_EVERY_NS):
            return None
        self._sent, self._sent_ns = values, now_ns
        return self.payload()
