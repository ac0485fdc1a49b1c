"""Shared plumbing for the lane readers: edge timestamps, input pins, publishing.

A reader takes a gpiozero pin factory (lgpio on the Pi, MockFactory in tests) and a
``publish(Pass)`` callable, so it can be tested without hardware and without MQTT.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from gpiozero import InputDevice
from gpiozero.pins import Factory

from pitwall import contract

log = logging.getLogger(__name__)

Publish = Callable[[contract.Pass], object]
EdgeHandler = Callable[[int], None]


def ticks_to_ns(ticks: float) -> int:
    """CLOCK_MONOTONIC nanoseconds from a gpiozero ``when_changed`` ticks value.

    With the lgpio factory, ticks is the kernel's edge timestamp (integer ns) divided by
    1e9; MockFactory uses time.monotonic(). The division and this multiplication each
    round to float's 53-bit mantissa, so the kernel's integer comes back exactly for
    uptimes below 2**51 ns (about 26 days), within 1 ns below 2**52 ns (about 52 days),
    and within a few ns after that: far below any sensor's resolution, so lap times
    (differences of these stamps) are unaffected.

    This is the only place a pass time is made: never stamp a pass with the time it
    was processed.
    """
    return round(ticks * 1e9)


class LaneReader:
    """Base class: owns the devices it opens and publishes passes for one lane."""

    source: contract.PassSource = "gpio"

    def __init__(self, lane: int, factory: Factory, publish: Publish) -> None:
        self.lane = lane
        self.factory = factory
        self._publish = publish
        self._devices: list = []
        self._handlers: list = []  # pins hold when_changed weakly: keep the closures here

    def _open(self, device_class, *args, **kwargs):
        """Open a gpiozero device on our factory and remember it for close()."""
        device = device_class(*args, pin_factory=self.factory, **kwargs)
        self._devices.append(device)
        return device

    def _watch(self, pin: int, *, active_low: bool, handler: EdgeHandler) -> InputDevice:
        """Open an input and call ``handler(t_ns)`` on each ACTIVE edge.

        Active low gets the pull-up (an open-collector sensor pulls the line down), active
        high the pull-down. The handler hangs on the pin's ``when_changed`` because only
        that gets the edge's ticks (Button.when_pressed does not). No bounce_time: lgpio's
        bounce filter reports edge + bounce, shifting every timestamp; bounces are dealt
        with downstream (the lap service's minimum lap time).
        """
        device = self._open(InputDevice, pin, pull_up=active_low)
        active_level = 0 if active_low else 1

        def changed(ticks, state) -> None:
            # The edges filter already drops the other direction; the level check also
            # drops anything else a driver might deliver (lgpio reports 2 for watchdogs).
            if state == active_level:
                handler(ticks_to_ns(ticks))

        self._handlers.append(changed)
        device.pin.edges = "falling" if active_low else "rising"
        device.pin.when_changed = changed
        return device

    def emit(self, t_ns: int, car: int | None = None) -> None:
        """Publish one pass; a failing publisher must not kill the GPIO callback thread."""
        message = contract.Pass(lane=self.lane, car=car, t_ns=t_ns, source=self.source)
        try:
            self._publish(message)
        except Exception:
            log.exception("lane %s: could not publish %r", self.lane, message)

    def close(self) -> None:
        for device in reversed(self._devices):
            try:
                device.close()
            except Exception:  # closing must go on for the other pins
                log.exception("lane %s: closing %r failed", self.lane, device)
        self._devices.clear()
        self._handlers.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
