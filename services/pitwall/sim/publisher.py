"""Publish passes exactly as a lane reader does, optionally recording them.

Shared by ``pitwall sim`` and ``pitwall replay``: one ``contract.Pass`` per crossing on
``{root}/lane/{lane}/pass``, QoS 1, ``t_ns`` on CLOCK_MONOTONIC.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pitwall import contract

if TYPE_CHECKING:
    from paho.mqtt.client import MQTTMessageInfo

    from pitwall.bus import Bus
    from pitwall.sim.passlog import Recorder

log = logging.getLogger(__name__)


class PassPublisher:
    def __init__(self, bus: Bus, source: contract.PassSource,
                 recorder: Recorder | None = None) -> None:
        self.bus = bus
        self.source = source
        self.recorder = recorder
        self.count = 0
        self._last: MQTTMessageInfo | None = None

    def publish(self, t_ns: int, lane: int, car: int | None) -> None:
        p = contract.Pass(lane=lane, car=car, t_ns=t_ns, source=self.source)
        self._last = self.bus.publish(self.bus.topics.lane_pass(lane), p)
        if self.recorder:
            self.recorder.write(p)
        self.count += 1

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the broker has the last pass (QoS 1 keeps them in order)."""
        if self._last is None:
            return True
        try:
            self._last.wait_for_publish(timeout)
        except (RuntimeError, ValueError) as exc:
            log.warning("last pass not confirmed by the broker: %s", exc)
        if not self._last.is_published():
            log.warning("broker has not confirmed every pass; unsent passes are lost")
            return False
        return True

    def close(self) -> None:
        if self.recorder:
            self.recorder.close()
