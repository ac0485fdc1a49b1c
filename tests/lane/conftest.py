"""Mock pins whose edges carry a timestamp chosen by the test, like the kernel's."""

from __future__ import annotations

import time

import msgspec
import pytest
from gpiozero.pins.mock import MockFactory, MockPin
from gpiozero.pins.pi import PiPin

from pitwall.settings import LaneSettings


class TickPin(MockPin):
    """A MockPin that can be driven at a given tick (float seconds, as lgpio gives them).

    MockPin reports ``_last_change`` (its own monotonic() reading) as the ticks of an
    edge; ``edge()`` substitutes the test's value, standing in for the kernel's stamp.
    """

    _forced_tick: float | None = None

    def edge(self, high: bool, tick: float) -> None:
        self._forced_tick = tick
        try:
            if high:
                self.drive_high()
            else:
                self.drive_low()
        finally:
            self._forced_tick = None

    def _call_when_changed(self):
        tick = self._last_change if self._forced_tick is None else self._forced_tick
        PiPin._call_when_changed(self, tick, self._state)


@pytest.fixture
def factory():
    f = MockFactory(pin_class=TickPin)
    yield f
    f.close()


def lane_settings(**fields) -> LaneSettings:
    """A validated LaneSettings, as the settings file would give it."""
    return msgspec.convert({"lane": 1, "pin": 17, **fields}, LaneSettings)


def wait_until(predicate, timeout: float = 5.0, what: str = "condition"):
    """Poll for something another thread does (HSHAKE pulses run on their own thread)."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.002)
    return result
