"""The box's health as the API heard it: the latest ``health/state`` and the last hour.

The health service publishes one retained reading every few seconds and keeps no
history (it stays small); the API keeps the last hour in memory for the maintainer's
plots. A restart of the API starts the hour afresh, which is all a plot needs.
"""

from __future__ import annotations

import threading
from collections import deque

import msgspec

from pitwall import contract

HOUR_S = 3600.0
MAX_POINTS = 3600  # one a second at most: bounds memory whatever the interval setting


class HealthPoint(msgspec.Struct, kw_only=True, omit_defaults=False):
    """One reading, reduced to what the plots draw."""

    at: float
    cpu_temp_c: float | None
    cpu_percent: float | None
    mem_available_mib: float | None
    disk_free_mib: float | None
    disk_write_kib_s: float | None
    load1: float | None


class HealthLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._now: contract.HealthState | None = None
        self._points: deque[HealthPoint] = deque(maxlen=MAX_POINTS)

    def add(self, state: contract.HealthState) -> None:
        point = HealthPoint(
            at=state.at, cpu_temp_c=state.cpu_temp_c, cpu_percent=state.cpu_percent,
            mem_available_mib=state.mem_available_mib, disk_free_mib=state.disk_free_mib,
            disk_write_kib_s=state.disk_write_kib_s,
            load1=state.load[0] if state.load else None)
        with self._lock:
            self._now = state
            if self._points and point.at == self._points[-1].at:
                return  # the retained reading again (a reconnect)
            if self._points and point.at < self._points[-1].at:
                # The wall clock went back (a Pi setting its time at boot): a new hour.
                self._points.clear()
            self._points.append(point)
            while self._points and self._points[0].at < point.at - HOUR_S:
                self._points.popleft()

    @property
    def now(self) -> contract.HealthState | None:
        return self._now

    def history(self) -> list[HealthPoint]:
        with self._lock:
            return list(self._points)
