"""The lights service: follows the lap service's retained ``lights/state`` and its
availability, and keeps the outputs showing ``panel_at(state, now)``.

Everything that changes the panel goes through ``render()`` under one lock: a message
(paho's thread), a planned moment (the scheduler's thread), a lost connection. The clock
and the scheduler are injected, so tests drive time instead of sleeping on it.

Fail-safe: track power is off unless the lap service is online and says so. Its last
will (``status/laps`` = offline), a lost broker connection and stopping this service
all switch the relays off.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import msgspec
from paho.mqtt.client import MQTTMessage

from pitwall import contract
from pitwall.bus import Bus
from pitwall.lights.outputs import Outputs
from pitwall.lights.panel import MS, Beeps, Panel, next_change, panel_at
from pitwall.settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], int]


def describe(panel: Panel) -> str:
    """'RRR.. GYXC B P': red lights, green, yellow, red flag, chequered, buzzer, power."""
    flags = "".join(c if on else "." for c, on in (("G", panel.green), ("Y", panel.yellow),
                                                   ("X", panel.red), ("C", panel.chequered)))
    return (f"{'R' * panel.reds:.<5} {flags} {'B' if panel.buzzer else '.'} "
            f"{'P' if panel.power else '.'}")


class Scheduler:
    """Calls one function at a CLOCK_MONOTONIC moment; a new ``call_at`` replaces the
    pending one. Its own thread (the real one); tests use a scheduler they drive."""

    def __init__(self, clock: Clock = time.monotonic_ns) -> None:
        self.clock = clock
        self._cond = threading.Condition()
        self._due: tuple[int, Callable[[], None]] | None = None
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="lights-timer", daemon=True)
        self._thread.start()

    def call_at(self, t_ns: int | None, fn: Callable[[], None]) -> None:
        with self._cond:
            self._due = None if t_ns is None else (t_ns, fn)
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped, self._due = True, None
            self._cond.notify()
        self._thread.join(2)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    if self._due is not None:
                        wait = (self._due[0] - self.clock()) / 1e9
                        if wait <= 0:
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
                if self._stopped:
                    return
                fn, self._due = self._due[1], None
            fn()


class LightsService:
    def __init__(self, settings: Settings, outputs: Outputs, *, bus: Bus | None = None,
                 clock: Clock = time.monotonic_ns, scheduler=None,
                 log_level: int = logging.DEBUG) -> None:
        self.outputs = outputs
        self.log_level = log_level  # of each panel change (INFO with mock pins: a dry run)
        self.clock = clock
        self.scheduler = scheduler or Scheduler(clock)
        cfg = settings.lights
        self.beeps = Beeps(red_ns=cfg.beep_ms * MS, go_ns=cfg.go_beep_ms * MS)
        self.bus = bus or Bus(settings, "lights")
        self.topics = self.bus.topics
        self._lock = threading.RLock()
        self.state: contract.LightsState | None = None
        self.laps_online = False
        self.stopped = False
        self.bus.subscribe(self.topics.lights_state, self._on_lights)
        self.bus.subscribe(self.topics.status("laps"), self._on_laps_status)
        self._chain_disconnect()
        self.render()  # power off until the lap service says otherwise

    # ------------------------------------------------------------------ lifecycle
    def start(self, wait: float | None = 10.0) -> bool:
        return self.bus.start(wait=wait)

    def stop(self) -> None:
        """Power off, lamps off, say offline. The pins stay driven until outputs.close()."""
        with self._lock:
            self.stopped = True
            self.scheduler.call_at(None, self.render)
            self.outputs.all_off()
        self.scheduler.stop()
        self.bus.stop()
        log.info("lights off, track power off")

    # ------------------------------------------------------------------ inputs
    def update(self, state: contract.LightsState | None = None, *,
               laps_online: bool | None = None) -> None:
        """Take a new lights state and/or lap-service availability, and render."""
        with self._lock:
            if state is not None:
                self.state = state
            if laps_online is not None:
                self.laps_online = laps_online
            self.render()

    def _on_lights(self, msg: MQTTMessage) -> None:
        if not msg.payload:  # a cleared retained message: no race control
            self.update(laps_online=False)
            return
        try:
            state = contract.decode(msg.payload, contract.LightsState)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.bus.report_error(msg.topic, f"bad lights state: {exc}", msg.payload)
            return
        self.update(state)

    def _on_laps_status(self, msg: MQTTMessage) -> None:
        online = msg.payload in contract.RUNNING  # degraded: race control still runs
        if not online:
            log.warning("lap service is %s: track power off",
                        msg.payload.decode(errors="replace") or "gone")
        self.update(laps_online=online)

    def _chain_disconnect(self) -> None:
        """Losing the broker means losing race control: power off until it is back (the
        retained state and status arrive again on reconnection)."""
        client = self.bus.client
        original = client.on_disconnect

        def on_disconnect(*args) -> None:
            original(*args)
            log.warning("broker connection lost: track power off")
            self.update(laps_online=False)

        client.on_disconnect = on_disconnect

    # ------------------------------------------------------------------ output
    def render(self) -> Panel:
        with self._lock:
            if self.stopped:
                return Panel()
            now = self.clock()
            panel = panel_at(self.state, now, laps_online=self.laps_online, beeps=self.beeps)
            if panel != self.outputs.shown:
                log.log(self.log_level, "lights: %s", describe(panel))
            self.outputs.show(panel)
            self.scheduler.call_at(next_change(self.state, now, self.beeps), self.render)
            return panel
