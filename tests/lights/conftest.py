"""A lights rig: MockFactory pins, a clock and a scheduler the test drives, and the real
race core standing in for the lap service's decisions (what it would publish, when)."""

from __future__ import annotations

import msgspec
import pytest
from gpiozero.pins.mock import MockFactory

from pitwall.core import SECOND, Race, RaceConfig
from pitwall.laps.publish import lights_payload
from pitwall.lights.outputs import Outputs
from pitwall.lights.service import LightsService

from ..conftest import make_settings

# The wiring under test (BCM pins); the relay is active-low, as most relay boards are.
PINS = {"red1": 12, "red2": 16, "red3": 20, "red4": 21, "red5": 25, "green": 24,
        "yellow": 23, "redflag": 18, "chequered": 4, "buzzer": 22, "power": 19}
ACTIVE_LOW = [19]
S = SECOND
MS = 1_000_000


class Clock:
    def __init__(self) -> None:
        self.t = 0

    def __call__(self) -> int:
        return self.t


class ManualScheduler:
    """The service's scheduler, run by the test: nothing happens until it says so."""

    def __init__(self) -> None:
        self.due = None

    def call_at(self, t_ns, fn) -> None:
        self.due = None if t_ns is None else (t_ns, fn)

    def stop(self) -> None:
        self.due = None


class Rig:
    def __init__(self, settings, factory: MockFactory) -> None:
        self.factory = factory
        self.clock = Clock()
        self.scheduler = ManualScheduler()
        self.outputs = Outputs(settings.lights, factory)
        self.service = LightsService(settings, self.outputs, clock=self.clock,
                                     scheduler=self.scheduler)
        self.race: Race | None = None
        self.published = None
        self.timeline: list[tuple[float, str]] = []
        self.seen = 0  # timeline entries run_until() has returned

    def level(self, name: str) -> bool:
        """Logical output (active-low handled): True = lamp lit / relay energised."""
        pin = PINS[name]
        return self.factory.pin(pin).state != (pin in ACTIVE_LOW)

    def panel(self) -> str:
        """'RRR.. GYXC B P': red lights, green, yellow, red flag, chequered, buzzer, power."""
        on = self.level
        reds = "".join("R" if on(f"red{i}") else "." for i in range(1, 6))
        flags = "".join(c if on(n) else "." for c, n in
                        (("G", "green"), ("Y", "yellow"), ("X", "redflag"), ("C", "chequered")))
        return f"{reds} {flags} {'B' if on('buzzer') else '.'} {'P' if on('power') else '.'}"

    def record(self) -> None:
        now = self.panel()
        if not self.timeline or self.timeline[-1][1] != now:
            self.timeline.append((self.clock.t / S, now))

    def lap_service(self, race: Race) -> None:
        """Publish as the lap service does: at once, and at each change it plans."""
        self.race = race
        self.publish()

    def publish(self) -> None:
        state = lights_payload(self.race, self.clock.t)
        key = msgspec.structs.replace(state, now_ns=0)  # as the lap service compares
        if key != self.published:
            self.published = key
            self.service.update(state, laps_online=True)
            self.record()

    def run_until(self, t_end: int) -> list[tuple[float, str]]:
        """Advance time to t_end, stepping through every planned moment of both services.

        Returns the changes since the last call (commands in between included)."""
        while True:
            moments = []
            if self.scheduler.due is not None:
                moments.append(self.scheduler.due[0])
            if self.race is not None and (n := self.race.next_change(self.clock.t)):
                moments.append(n)
            t = min(moments, default=None)
            if t is None or t > t_end:
                break
            self.clock.t = t
            # The lap service's message arrives a moment after the lights rendered the
            # same change from the plan: the lights never wait for it.
            if self.scheduler.due is not None and self.scheduler.due[0] <= t:
                _, fn = self.scheduler.due
                self.scheduler.due = None
                fn()
                self.record()
            if self.race is not None:
                self.publish()
        self.clock.t = t_end
        changes, self.seen = self.timeline[self.seen:], len(self.timeline)
        return changes


@pytest.fixture
def lights_settings(tmp_path, broker, topic_root):
    return make_settings(tmp_path, broker.port, topic_root, lights={
        "red_pins": [PINS[f"red{i}"] for i in range(1, 6)], "green_pin": PINS["green"],
        "yellow_pin": PINS["yellow"], "red_flag_pin": PINS["redflag"],
        "chequered_pin": PINS["chequered"], "buzzer_pin": PINS["buzzer"],
        "power_pins": [PINS["power"]], "active_low_pins": ACTIVE_LOW,
        "beep_ms": 150, "go_beep_ms": 600})


@pytest.fixture
def factory():
    f = MockFactory()
    yield f
    f.close()


@pytest.fixture
def rig(lights_settings, factory):
    r = Rig(lights_settings, factory)
    yield r
    r.outputs.close()


def race(**cfg) -> Race:
    cfg.setdefault("min_lap_ns", 2 * S)
    cfg.setdefault("mode", "laps")
    cfg.setdefault("laps", 20)
    cfg.setdefault("entrant", "lane")
    return Race(RaceConfig(**cfg))
